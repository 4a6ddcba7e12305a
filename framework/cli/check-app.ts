import { readFileSync } from "node:fs"
import { join } from "node:path"

/** An error in the app's code: where, what, and the lines around it with a caret under the spot. */
export interface AppProblem {
  file: string
  line: number
  column: number
  message: string
  /** The lines around the spot as written, the line itself marked, and a caret under the column (see codeFrame). */
  frame: string
}

/**
 * Parses the app from its entry (`index.ts`), as a node would load it, and
 * returns its syntax errors: `bun run dev` shows them and rolls nothing until
 * they are fixed (a node started on them would only say "Unexpected export").
 * Dependencies are not read (`packages: "external"`): a few ms per edit.
 */
export async function checkApp(appDir: string, entry = "index.ts"): Promise<AppProblem[]> {
  const path = join(appDir, entry)
  const out = await Bun.build({ entrypoints: [path], target: "bun", throw: false, packages: "external" })
  if (out.success) return []
  return out.logs
    .filter((l) => l.level === "error")
    .map((l) => {
      const p = l.position
      if (!p) return { file: path, line: 0, column: 0, message: l.message, frame: "" }
      const text = textOf(p.file)
      const frame = text === undefined ? codeFrame(p.lineText, p.line, p.column, p.line - 1) : codeFrame(text, p.line, p.column)
      return { file: p.file, line: p.line, column: p.column, message: l.message, frame }
    })
}

function textOf(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

/**
 * Two lines before the spot, its line (marked `>`), a caret under the column
 * (both 1-based), and the line after:
 *
 *     2 |   name: "duel",
 *   > 3 |   version: 1,,
 *       |              ^
 *     4 | }
 *
 * `firstLine` is the number of text's first line, less one (0 when text is the whole file).
 */
export function codeFrame(text: string, line: number, column: number, firstLine = 0): string {
  const lines = text.split(/\r?\n/)
  const from = Math.max(1, line - 2, firstLine + 1)
  const to = Math.min(line + 1, firstLine + lines.length)
  const width = String(to).length
  const out: string[] = []
  for (let n = from; n <= to; n++) {
    const code = lines[n - 1 - firstLine] ?? ""
    out.push(`${n === line ? ">" : " "} ${String(n).padStart(width)} | ${code}`.trimEnd())
    // Tabs stay tabs, so the caret lines up under the column whatever the tab width.
    if (n === line) out.push(`  ${" ".repeat(width)} | ${code.slice(0, Math.max(0, column - 1)).replace(/[^\t]/g, " ")}^`)
  }
  return out.join("\n")
}

/** A problem as the dev console prints it: `file:line:column message`, then the frame. */
export function formatProblem(p: AppProblem): string {
  return `${p.file}:${p.line}:${p.column} ${p.message}${p.frame ? `\n${p.frame}` : ""}`
}
