import { expect, test } from "bun:test"
import { resolve } from "node:path"

const ROOT = resolve(import.meta.dir, "../..")

// tsc over the whole project, including game-types.ts: every `@ts-expect-error`
// there must meet a real error, and nothing else may fail to compile.
test("the project type-checks and misuse of game types is a compile error", () => {
  const tsc = Bun.spawnSync(["bun", resolve(ROOT, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", ROOT], { cwd: ROOT })
  const out = tsc.stdout.toString() + tsc.stderr.toString()
  expect(out).toBe("")
  expect(tsc.exitCode).toBe(0)
}, 120_000)
