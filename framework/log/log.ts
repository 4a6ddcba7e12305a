import { createRequire } from "node:module"
import { format } from "node:util"

/** Structured logs: one JSON object a line (for machines), or a short line (for a terminal). */
export interface Logger {
  /** What happened in the normal course (a node listening, a session moved). `fields` go on the line. */
  info(msg: string, fields?: Record<string, unknown>): void
  /** Something an operator may want to look at; the node carries on. */
  warn(msg: string, fields?: Record<string, unknown>): void
  /** A failure. Written to stderr at once; an `error` field that is an Error keeps its stack. */
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

/**
 * A Logger in `format`: "json" (the default) writes one object a line with
 * the `base` fields on each (a log pipeline's input), "pretty" a short line
 * for a terminal, "silent" nothing. Errors go to stderr, the rest to stdout.
 */
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

let captured = false

/**
 * Routes console output into `logger`, one JSON line per call: libraries
 * (automerge-repo prints `error waiting for … to be in one of states` and
 * `sync with peers threw an exception` with console.log) would otherwise put
 * plain text between the JSON lines a log pipeline parses. Once per process.
 */
export function captureConsole(logger: Logger): void {
  if (captured) return
  captured = true
  const line = (args: unknown[]) => format(...args)
  const info = (...args: unknown[]) => logger.info(line(args), { source: "console" })
  console.log = info
  console.info = info
  console.debug = info
  console.trace = info
  console.warn = (...args: unknown[]) => logger.warn(line(args), { source: "console" })
  console.error = (...args: unknown[]) => logger.error(line(args), { source: "console" })
  // automerge-repo's `debug` (DEBUG=automerge-repo:*) writes to stderr itself, not through the
  // console: its documented hook, `debug.log`, takes the lines instead.
  try {
    const debug = createRequire(Bun.resolveSync("@automerge/automerge-repo", import.meta.dir))("debug") as { log?: unknown }
    debug.log = (...args: unknown[]) => logger.info(line(args), { source: "debug" })
  } catch {
    // no debug library where automerge-repo is: nothing of it to capture
  }
}
