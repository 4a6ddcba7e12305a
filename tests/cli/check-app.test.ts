import { afterAll, expect, test } from "bun:test"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { checkApp, formatProblem } from "../../framework/cli/check-app.ts"

const dir = mkdtempSync(join(tmpdir(), "baton-check-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test("a syntax error in a game the app imports is found with its file, line, column and a code frame", async () => {
  writeFileSync(join(dir, "index.ts"), 'import game from "./games/duel.ts"\nexport const games = [game]\n')
  const games = join(dir, "games")
  mkdirSync(games, { recursive: true })
  writeFileSync(join(games, "duel.ts"), 'export default {\n  name: "duel",\n  version: 1,,\n}\n')
  const [p] = await checkApp(dir)
  expect(p).toMatchObject({ file: join(games, "duel.ts"), line: 3, column: 14 })
  expect(formatProblem(p!)).toBe(`${join(games, "duel.ts")}:3:14 ${p!.message}\n3 |   version: 1,,\n                 ^`)
  // Fixed: nothing to say.
  writeFileSync(join(games, "duel.ts"), 'export default {\n  name: "duel",\n  version: 1,\n}\n')
  expect(await checkApp(dir)).toEqual([])
})
