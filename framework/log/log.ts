/** Structured logs: one JSON object a line (for machines), or a short line (for a terminal). */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
}

export type LogFormat = "json" | "pretty" | "silent"

/**
 * Lines to stdout are written once per task, not once per line: a drain logs
 * a line per session moved, and a write per line was a visible part of its
 * cost. Errors go to stderr at once (a crash must not eat its own cause).
 */
let pending = ""
function out(line: string): void {
  if (pending === "") queueMicrotask(flushOut)
  pending += line
}
function flushOut(): void {
  if (pending === "") return
  const text = pending
  pending = ""
  process.stdout.write(text)
}
process.on("exit", flushOut)

export function createLogger(base: Record<string, unknown>, format: LogFormat = "json"): Logger {
  const write = (level: string, msg: string, fields?: Record<string, unknown>) => {
    if (format === "silent") return
    let line: string
    if (format === "json") line = `${JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields }, errorReplacer)}\n`
    else {
      const extra = fields ? ` ${Object.entries(fields).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v, errorReplacer)}`).join(" ")}` : ""
      line = `${level === "info" ? "" : `${level.toUpperCase()} `}${msg}${extra}\n`
    }
    if (level !== "error") return out(line)
    flushOut() // keep the order of what came before
    process.stderr.write(line)
  }
  return {
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
  }
}

function errorReplacer(_key: string, value: unknown): unknown {
  return value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value
}
