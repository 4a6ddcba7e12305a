import { afterAll, expect, test } from "bun:test"
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"

/**
 * The guide's code runs as it stands: the tictactoe module of docs/games.md
 * and its "Testing a game" example are written to a scratch folder and run
 * with `bun test`, then type-checked with the Timers example and
 * docs/client.md's React example, so the guides cannot drift from the API.
 */
const ROOT = resolve(import.meta.dir, "../..")
// Outside tests/ (the suite must not find the example as one of its own files).
const DIR = join(ROOT, ".guide-scratch")
afterAll(() => rmSync(DIR, { recursive: true, force: true }))

function blocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string)
}

test("docs/games.md: the tictactoe module and its test run and type-check as written (and docs/client.md's React component on it)", async () => {
  const guide = readFileSync(join(ROOT, "docs/games.md"), "utf8")
  const code = blocks(guide)
  const game = code.find((b) => b.includes('name: "tictactoe"'))
  const example = code.find((b) => b.includes('from "./tictactoe.ts"') && b.includes("bun:test"))
  const timers = code.find((b) => b.includes('name: "fuse"'))
  expect(game).toBeDefined()
  expect(timers).toBeDefined()
  expect(example).toBeDefined()
  rmSync(DIR, { recursive: true, force: true })
  mkdirSync(DIR, { recursive: true })
  writeFileSync(join(DIR, "tictactoe.ts"), game as string)
  writeFileSync(join(DIR, "tictactoe.test.ts"), example as string)
  writeFileSync(join(DIR, "fuse.ts"), timers as string) // the Timers example: type-checked below
  // docs/client.md's React component, on the same module, is type-checked with them.
  const board = [...readFileSync(join(ROOT, "docs/client.md"), "utf8").matchAll(/^```tsx\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string).find((b) => b.includes("useSession<typeof tictactoe>"))
  expect(board).toBeDefined()
  writeFileSync(join(DIR, "board.tsx"), `${(board as string).replace('"../games/tictactoe.ts"', '"./tictactoe.ts"')}\nexport { Board }\n`)
  writeFileSync(join(DIR, "tsconfig.json"), JSON.stringify({ extends: "../tsconfig.json", include: ["*.ts", "*.tsx"] }))

  const run = Bun.spawn(["bun", "test", join(DIR, "tictactoe.test.ts")], { cwd: ROOT, stdout: "pipe", stderr: "pipe" })
  const [code1, out] = await Promise.all([run.exited, new Response(run.stderr).text()])
  expect(out).toContain("1 pass")
  expect(code1).toBe(0)

  const tsc = Bun.spawn(["bunx", "tsc", "--noEmit", "-p", join(DIR, "tsconfig.json")], { cwd: ROOT, stdout: "pipe", stderr: "pipe" })
  const [code2, errors] = await Promise.all([tsc.exited, new Response(tsc.stdout).text()])
  expect(errors).toBe("")
  expect(code2).toBe(0)
}, 120_000)
