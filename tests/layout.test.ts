import { describe, expect, test } from "bun:test"
import { readdirSync, readFileSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"

/** Rules of the source layout that a review would otherwise have to catch. */
const ROOT = join(import.meta.dir, "../framework")

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") && !e.name.endsWith(".d.ts") ? [join(dir, e.name)] : [],
  )
}

/** Code with comments and string contents blanked (a rule about calls must not trip on prose). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "").replace(/(["'`])(?:\\.|(?!\1)[^\\\n])*\1/g, '""')
}

describe("the framework's layout", () => {
  test("cluster and node code read time and arm timers only through the injected Clock", () => {
    const direct = /\bDate\.now\b|\bperformance\.now\b|(^|[^.\w#])(setTimeout|setInterval|setImmediate|clearTimeout|clearInterval)\s*\(|\bBun\.sleep\b/
    const offenders: string[] = []
    for (const dir of ["cluster", "node"])
      for (const file of sources(join(ROOT, dir))) {
        // The runtime's clock itself, and the Bun socket edge (its dial timeout takes the injected timers).
        if (file.endsWith("cluster/clock.ts")) continue
        code(readFileSync(file, "utf8"))
          .split("\n")
          .forEach((line, i) => direct.test(line) && offenders.push(`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`))
      }
    expect(offenders).toEqual([])
  })

  test("only framework/react imports React (an optional peer dependency: the other entries run without it)", () => {
    const importsReact = /^(?:import|export)\b[^;]*?from\s+"react(?:-dom)?(?:\/[^"]*)?"/m
    const offenders = sources(ROOT)
      .filter((file) => !relative(ROOT, file).startsWith("react/") && importsReact.test(readFileSync(file, "utf8")))
      .map((file) => relative(ROOT, file))
    expect(offenders).toEqual([])
  })

  test("no import cycles between the framework's files", () => {
    const graph = new Map<string, string[]>()
    for (const file of sources(ROOT)) {
      const deps = [...readFileSync(file, "utf8").matchAll(/^(?:import|export)\b[^;]*?from\s+"(\.[^"]+)"/gm)].map((m) => resolve(dirname(file), m[1] as string))
      graph.set(file, deps)
    }
    const cycles: string[] = []
    const state = new Map<string, "open" | "done">()
    const walk = (file: string, path: string[]) => {
      if (state.get(file) === "done") return
      if (state.get(file) === "open") {
        cycles.push([...path.slice(path.indexOf(file)), file].map((f) => relative(ROOT, f)).join(" → "))
        return
      }
      state.set(file, "open")
      for (const dep of graph.get(file) ?? []) walk(dep, [...path, file])
      state.set(file, "done")
    }
    for (const file of graph.keys()) walk(file, [])
    expect(cycles).toEqual([])
  })
})
