import { afterAll, expect, test } from "bun:test"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { checkApp, codeFrame, formatProblem } from "../../framework/cli/check-app.ts"

const dir = mkdtempSync(join(tmpdir(), "baton-check-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test("a syntax error in a game the app imports is found with its file, line, column and a code frame", async () => {
  writeFileSync(join(dir, "index.ts"), 'import game from "./games/duel.ts"\nexport const games = [game]\n')
  const games = join(dir, "games")
  mkdirSync(games, { recursive: true })
  writeFileSync(join(games, "duel.ts"), 'export default {\n  name: "duel",\n  version: 1,,\n}\n')
  const [p] = await checkApp(dir)
  expect(p).toMatchObject({ file: join(games, "duel.ts"), line: 3, column: 14 })
  expect(formatProblem(p!)).toBe(
    [`${join(games, "duel.ts")}:3:14 ${p!.message}`, '  1 | export default {', '  2 |   name: "duel",', "> 3 |   version: 1,,", "    |              ^", "  4 | }"].join("\n"),
  )
  // Fixed: nothing to say.
  writeFileSync(join(games, "duel.ts"), 'export default {\n  name: "duel",\n  version: 1,\n}\n')
  expect(await checkApp(dir)).toEqual([])
})

test("a code frame: two lines before, one after, the gutter as wide as the widest number, tabs kept under the caret", () => {
  const text = Array.from({ length: 12 }, (_, i) => `line ${i + 1}`).join("\n").replace("line 10", "\tx = 10")
  expect(codeFrame(text, 10, 3)).toBe(["   8 | line 8", "   9 | line 9", "> 10 | \tx = 10", "     | \t ^", "  11 | line 11"].join("\n"))
  // At the edges of the file.
  expect(codeFrame("only", 1, 1)).toBe(["> 1 | only", "    | ^"].join("\n"))
  // Only the line itself known (its number is 7).
  expect(codeFrame("seven", 7, 2, 6)).toBe(["> 7 | seven", "    |  ^"].join("\n"))
})
