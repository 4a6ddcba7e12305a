import { join } from "node:path"

/** A syntax error in the app's code: where, what, and the line with a caret under the spot. */
export interface AppProblem {
  file: string
  line: number
  column: number
  message: string
  /** The line as written, and a caret under the column. */
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
      const gutter = `${p.line} | `
      return { file: p.file, line: p.line, column: p.column, message: l.message, frame: `${gutter}${p.lineText}\n${" ".repeat(gutter.length + Math.max(0, p.column - 1))}^` }
    })
}

/** A problem as the dev console prints it: `file:line:column message`, then the frame. */
export function formatProblem(p: AppProblem): string {
  return `${p.file}:${p.line}:${p.column} ${p.message}${p.frame ? `\n${p.frame}` : ""}`
}
