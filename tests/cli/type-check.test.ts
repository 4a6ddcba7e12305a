import { afterAll, expect, test } from "bun:test"
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { typeCheck } from "../../framework/cli/type-check.ts"

const ROOT = resolve(import.meta.dir, "../..")
const dir = mkdtempSync(join(tmpdir(), "baton-types-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const GAME = `import { defineGame, v } from "batonjs"

export default defineGame({
  name: "tally",
  version: 1,
  players: { min: 1, max: 4 },
  state: v.object({ total: v.number() }),
  setup: () => ({ total: 0 }),
  actions: {
    add: {
      input: v.object({ n: v.number() }),
      apply({ state, input }) {
        state.total += input.n
      },
    },
  },
})
`

test("no typescript in the project, or no tsconfig.json: no type check", async () => {
  const bare = join(dir, "bare")
  mkdirSync(bare)
  writeFileSync(join(bare, "index.ts"), "export default {}\n")
  // typescript resolves from the project only: /tmp has none.
  expect(await typeCheck(bare)).toBeUndefined()
})

test("a type error in a game: file, line, column and the lines around it; the next checks read only what changed", async () => {
  const app = join(dir, "app")
  mkdirSync(join(app, "games"), { recursive: true })
  symlinkSync(resolve(ROOT, "node_modules"), join(app, "node_modules"))
  writeFileSync(join(app, "tsconfig.json"), JSON.stringify({ compilerOptions: { strict: true, module: "ESNext", moduleResolution: "bundler", target: "ESNext", types: ["bun-types"], allowImportingTsExtensions: true, noEmit: true, skipLibCheck: true } }))
  writeFileSync(join(app, "index.ts"), 'import { defineApp } from "batonjs/server"\nimport tally from "./games/tally.ts"\nexport default defineApp({ games: [tally] })\n')
  writeFileSync(join(app, "games/tally.ts"), GAME)
  const check = await typeCheck(app)
  expect(check).toBeDefined()
  let started = performance.now()
  expect(check!.check()).toEqual([])
  const first = performance.now() - started

  writeFileSync(join(app, "games/tally.ts"), GAME.replace("state.total += input.n", 'state.total += "one"'))
  started = performance.now()
  const [p, ...more] = check!.check()
  const again = performance.now() - started
  expect(more).toEqual([])
  expect(p).toMatchObject({ file: join(app, "games/tally.ts"), line: 13, column: 9, message: "Type 'string' is not assignable to type 'number'." })
  expect(p!.frame).toBe(["   11 |       input: v.object({ n: v.number() }),", "   12 |       apply({ state, input }) {", ' > 13 |         state.total += "one"', "      |         ^", "   14 |       },"].join("\n").replace(/^ /gm, ""))

  writeFileSync(join(app, "games/tally.ts"), GAME)
  expect(check!.check()).toEqual([])
  // Not a threshold, a record: what the incremental check saves.
  console.log(`type check: first ${Math.round(first)} ms, after an edit ${Math.round(again)} ms`)
}, 60_000)
