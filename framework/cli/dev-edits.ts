import { watch } from "node:fs"
import { join, relative } from "node:path"
import { type AppGraph, appGraph } from "./app-graph.ts"
import { type AppProblem, checkApp, formatProblem } from "./check-app.ts"
import { typeCheckInWorker } from "./type-check.ts"

export interface WatchAppOptions {
  appDir: string
  /** Shows a line to the developer (the dev cluster's event feed). */
  say(line: string): void
  /** Rolls the cluster onto the code on disk; `entry` when the app's entry itself changed (its page map may have). */
  roll(entry: boolean): Promise<void>
}

/** Source files only: not dependencies, data, dot-folders (.git), tests, docs or editors' temporary files. */
const IGNORED = /(^|\/)(node_modules|\.data|tests|docs|\.[^/]+)(\/|$)|~$|\.sw[px]$/
const SOURCE = /\.(ts|tsx|js|jsx|mjs|html|css|json)$/

/**
 * What `bun run dev` does when a file of the app changes, by who loads it
 * (app-graph.ts):
 * - code the nodes run (the entry, a game, what they import): check its
 *   syntax and types, then roll the cluster onto it. A problem is shown
 *   (file:line:column, the lines around it) and the roll waits: the next
 *   save that fixes it rolls.
 * - code only pages load: nothing here. The front door serves pages in Bun's
 *   development mode, and Bun reloads the page in the browser.
 * - tests, docs, and files nothing imports: nothing.
 */
export function watchApp(opts: WatchAppOptions): { close(): void } {
  const { appDir, say } = opts
  const types = typeCheckInWorker(appDir)
  const changed = new Set<string>()
  let graph: AppGraph = appGraph(appDir)
  /** A change the nodes run waits for its problems to be fixed. */
  let held: { entry: boolean } | undefined
  let busy = false
  let debounce: ReturnType<typeof setTimeout> | undefined

  // Checked once at start: later checks only read what changed, and errors already there are shown now.
  void types.check().then((reply) => {
    if (reply.error) say(`type check failed: ${reply.error}`)
    else if (reply.problems === null) say("types are not checked: the project has no typescript (a devDependency) or no tsconfig.json")
    else if (reply.problems.length) show(`the app has ${count(reply.problems, "type error")}; a roll waits until they are fixed`, reply.problems)
  })

  const show = (line: string, problems: AppProblem[]) => {
    say(line)
    for (const p of problems.slice(0, 3)) for (const l of formatProblem({ ...p, file: relative(appDir, p.file) || p.file }).split("\n")) say(`  ${l}`)
    if (problems.length > 3) say(`  … and ${problems.length - 3} more`)
  }

  const settle = async () => {
    if (busy || changed.size === 0) return
    busy = true
    try {
      const files = [...changed]
      changed.clear()
      const before = graph
      graph = appGraph(appDir)
      // A file a node ran before this edit counts too: deleting one is a change to what runs.
      const runs = files.filter((f) => graph.server.has(f) || before.server.has(f))
      const pages = files.filter((f) => !runs.includes(f) && (graph.pages.has(f) || before.pages.has(f)))
      const unused = files.filter((f) => !runs.includes(f) && !pages.includes(f))
      const names = (list: string[]) => list.map((f) => relative(appDir, f)).join(", ")
      if (pages.length) say(`changed: ${names(pages)}; the page reloads in the browser (no roll: only pages load it)`)
      if (unused.length) say(`changed: ${names(unused)}; nothing imports it, nothing to do`)
      if (!runs.length && !held) return
      const entry = runs.includes(join(appDir, "index.ts")) || !!held?.entry
      // A save while a roll is held (of a page, say) checks again: the fix may be in a file no node runs.
      const notRolling = runs.length ? `changed: ${names(runs)}; not rolling` : "still not rolling"
      const started = performance.now()
      // A page's own errors are the browser's to show (Bun's dev server does): they hold no roll.
      const syntax = (await checkApp(appDir).catch(() => [])).filter((p) => !graph.pages.has(p.file) || graph.server.has(p.file))
      if (syntax.length) {
        held = { entry }
        return show(`${notRolling}: ${count(syntax, "syntax error")} (the cluster keeps the code it runs; save a fix and it rolls)`, syntax)
      }
      const reply = await types.check()
      if (reply.error) say(`type check failed (rolling anyway): ${reply.error}`)
      const typeErrors = reply.problems ?? []
      if (typeErrors.length) {
        held = { entry }
        return show(`${notRolling}: ${count(typeErrors, "type error")} (the cluster keeps the code it runs; save a fix and it rolls)`, typeErrors)
      }
      held = undefined
      const checked = reply.problems ? `checked in ${((performance.now() - started) / 1000).toFixed(1)} s; ` : ""
      say(`${runs.length ? `changed: ${names(runs)}` : "fixed"}; ${checked}rolling the cluster onto the new code`)
      await opts.roll(entry)
    } finally {
      busy = false
      // Edits saved during the check or the roll: their turn now.
      if (changed.size) void settle()
    }
  }

  const watcher = watch(appDir, { recursive: true }, (_event, file) => {
    const f = String(file ?? "")
    if (!f || IGNORED.test(f) || !SOURCE.test(f)) return
    changed.add(join(appDir, f))
    clearTimeout(debounce)
    debounce = setTimeout(() => void settle(), 300)
  })
  return {
    close() {
      clearTimeout(debounce)
      watcher.close()
      types.stop()
    },
  }
}

function count(problems: readonly unknown[], what: string): string {
  return `${problems.length} ${what}${problems.length === 1 ? "" : "s"}`
}
