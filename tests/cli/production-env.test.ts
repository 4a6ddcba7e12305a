import { afterAll, expect, test } from "bun:test"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { NodeEventLog } from "../support/node-events.ts"

const ROOT = resolve(import.meta.dir, "../..")
const dir = mkdtempSync(join(tmpdir(), "baton-env-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Starts `baton start` with the module report preloaded, stops it with SIGTERM, returns the modules it loaded. */
async function modulesOfNode(env: Record<string, string | undefined>): Promise<string[]> {
  const report = join(dir, `modules-${Math.random().toString(36).slice(2)}.json`)
  const events = new NodeEventLog()
  const proc = Bun.spawn(["bun", "--preload", "./tests/support/report-modules.ts", "framework/cli/main.ts", "start", "tests/fixtures/app"], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: "0", HOST: "127.0.0.1", BATON_LOG: "json", BATON_MAX_LIFETIME_MS: "20000", BATON_REPORT_MODULES: report },
    stdout: "ignore",
    stderr: "pipe",
    ...events.spawnOptions,
  })
  await events.waitFor("listening")
  proc.kill("SIGTERM")
  await proc.exited
  expect(existsSync(report)).toBe(true)
  return JSON.parse(readFileSync(report, "utf8"))
}

test("baton start runs the production builds of its dependencies (mutative)", async () => {
  const modules = await modulesOfNode({ NODE_ENV: undefined })
  const mutative = modules.filter((m) => /mutative\.cjs\.(production|development)/.test(m))
  expect(mutative.map((m) => m.split("/").pop())).toEqual(["mutative.cjs.production.min.js"])
})

test("NODE_ENV=development keeps the development builds (clear errors while writing a game)", async () => {
  const modules = await modulesOfNode({ NODE_ENV: "development" })
  expect(modules.some((m) => m.endsWith("mutative.cjs.development.js"))).toBe(true)
})
