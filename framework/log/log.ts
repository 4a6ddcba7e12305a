/** Structured logs: one JSON object a line (for machines), or a short line (for a terminal). */
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
}

export type LogFormat = "json" | "pretty" | "silent"

export function createLogger(base: Record<string, unknown>, format: LogFormat = "json"): Logger {
  const write = (level: string, msg: string, fields?: Record<string, unknown>) => {
    if (format === "silent") return
    if (format === "json") {
      const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...fields }, errorReplacer)
      ;(level === "error" ? process.stderr : process.stdout).write(`${line}\n`)
      return
    }
    const extra = fields ? ` ${Object.entries(fields).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v, errorReplacer)}`).join(" ")}` : ""
    const tag = level === "info" ? "" : `${level.toUpperCase()} `
    ;(level === "error" ? process.stderr : process.stdout).write(`${tag}${msg}${extra}\n`)
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
