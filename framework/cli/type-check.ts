import { statSync } from "node:fs"
import { isAbsolute, join, relative } from "node:path"
import type * as TS from "typescript"
import { type AppProblem, codeFrame } from "./check-app.ts"

/** Checks the app's types again, after edits; the first check reads everything, the next ones what changed. */
export interface TypeCheck {
  check(): AppProblem[]
}

/**
 * The type errors of the app's server code (its entry and what it imports:
 * games, hooks, shared modules; pages are bundled for the browser, and Bun's
 * dev server reports their errors), with TypeScript's compiler API, as the
 * project's tsconfig.json asks. Undefined when the project has no
 * `typescript` or no tsconfig.json: the type check is the project's choice,
 * and batonjs does not ship a compiler to every server that runs a game.
 *
 * Only the app's own files are checked (not its packages': batonjs ships
 * TypeScript sources, checked by its own tests).
 *
 * Incremental: source files are kept between checks (a file is read again
 * when its modification time or size changed) and a builder program reuses
 * the last one, so only what an edit affects is checked again.
 */
export async function typeCheck(appDir: string, entry = "index.ts"): Promise<TypeCheck | undefined> {
  let ts: typeof TS
  try {
    ts = ((await import(Bun.resolveSync("typescript", appDir))) as { default: typeof TS }).default
  } catch {
    return undefined
  }
  const configPath = ts.findConfigFile(appDir, ts.sys.fileExists)
  if (!configPath) return undefined
  const config = ts.getParsedCommandLineOfConfigFile(configPath, { noEmit: true }, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} })
  if (!config) return undefined
  const options = { ...config.options, noEmit: true, incremental: false, composite: false }
  const host = ts.createCompilerHost(options)
  const read = host.getSourceFile.bind(host)
  const files = new Map<string, { stamp: string; file: TS.SourceFile }>()
  host.getSourceFile = (name, languageVersion, onError) => {
    const stamp = stampOf(name)
    const known = files.get(name)
    if (known && known.stamp === stamp) return known.file
    const file = read(name, languageVersion, onError)
    if (!file) return undefined
    // The builder compares versions to know what an edit affects.
    ;(file as TS.SourceFile & { version: string }).version = stamp
    files.set(name, { stamp, file })
    return file
  }
  const root = join(appDir, entry)
  let last: TS.SemanticDiagnosticsBuilderProgram | undefined
  return {
    check() {
      last = ts.createSemanticDiagnosticsBuilderProgram([root], options, host, last)
      const builder = last
      // The app's own files: what it imports from packages (batonjs itself, shipped as .ts) is read for its types, not checked.
      const own = builder.getSourceFiles().filter((f) => !f.isDeclarationFile && isInside(appDir, f.fileName))
      const diagnostics = [
        ...builder.getOptionsDiagnostics(),
        ...builder.getGlobalDiagnostics(),
        ...own.flatMap((f) => [...builder.getSyntacticDiagnostics(f), ...builder.getSemanticDiagnostics(f)]),
      ]
      return diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error).map((d) => problemOf(ts, d, root))
    },
  }
}

function isInside(dir: string, file: string): boolean {
  const rel = relative(dir, file)
  return !rel.startsWith("..") && !isAbsolute(rel) && !rel.split(/[\\/]/).includes("node_modules")
}

function stampOf(path: string): string {
  try {
    const s = statSync(path)
    return `${s.mtimeMs}:${s.size}`
  } catch {
    return "missing"
  }
}

function problemOf(ts: typeof TS, d: TS.Diagnostic, root: string): AppProblem {
  const message = ts.flattenDiagnosticMessageText(d.messageText, "\n")
  if (!d.file || d.start === undefined) return { file: root, line: 0, column: 0, message, frame: "" }
  const { line, character } = d.file.getLineAndCharacterOfPosition(d.start)
  return { file: d.file.fileName, line: line + 1, column: character + 1, message, frame: codeFrame(d.file.text, line + 1, character + 1) }
}

/** A check asked of the worker (type-check-worker.ts). */
export interface CheckRequest {
  id: number
  appDir: string
}

/** `problems` is null when the project has no typescript or tsconfig.json; `error` says why the compiler failed. */
export interface CheckReply {
  id: number
  problems: AppProblem[] | null
  error?: string
}

/** typeCheck in a worker: the first check takes seconds, and the dev process's front door must keep answering meanwhile. */
export function typeCheckInWorker(appDir: string): { check(): Promise<CheckReply>; stop(): void } {
  const worker = new Worker(new URL("./type-check-worker.ts", import.meta.url).href)
  const waiting = new Map<number, (reply: CheckReply) => void>()
  let next = 0
  worker.onmessage = (event: MessageEvent<CheckReply>) => {
    waiting.get(event.data.id)?.(event.data)
    waiting.delete(event.data.id)
  }
  worker.onerror = (event) => {
    for (const [id, answer] of waiting) answer({ id, problems: null, error: event.message })
    waiting.clear()
  }
  return {
    check() {
      const id = next++
      return new Promise((resolve) => {
        waiting.set(id, resolve)
        worker.postMessage({ id, appDir } satisfies CheckRequest)
      })
    },
    stop: () => worker.terminate(),
  }
}
