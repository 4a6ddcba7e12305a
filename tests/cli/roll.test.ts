import { afterAll, describe, expect, test } from "bun:test"
import { mkdirSync, rmSync, writeFileSync } from "node:fs"
import { resolve } from "node:path"
import { createSession, join } from "batonjs/client"
import { freeRun } from "../support/node-process.ts"
import { waitUntil } from "../support/wait.ts"

const ROOT = resolve(import.meta.dir, "../..")
// Inside the repository (so "batonjs" resolves), ignored by git.
const APP = resolve(ROOT, "tests/.artifacts/roll-app")

const gameSource = (version: number) => `import { defineGame, v } from "batonjs"
export default defineGame({
  name: "tally",
  version: ${version},
  players: { min: 1, max: 4 },
  state: v.object({ total: v.number()${version > 1 ? ", edits: v.number()" : ""} }),
  setup: () => ({ total: 0${version > 1 ? ", edits: 0" : ""} }),
  actions: { add: { input: v.object({ n: v.number() }), apply: ({ state, input }) => void (state.total += input.n) } },
  ${version > 1 ? "migrate: { 1: (old: { total: number }) => ({ ...old, edits: 1 }) }," : ""}
})
`

let proc: ReturnType<typeof Bun.spawn> | undefined
afterAll(() => {
  proc?.kill("SIGKILL")
  rmSync(APP, { recursive: true, force: true })
})

describe("rolling the dev cluster", () => {
  test("baton roll replaces every node with progress lines, and an edit to a game module rolls onto the new code", async () => {
    mkdirSync(APP, { recursive: true })
    writeFileSync(resolve(APP, "tally.ts"), gameSource(1))
    writeFileSync(resolve(APP, "index.ts"), `import { defineApp } from "batonjs/server"\nimport tally from "./tally.ts"\nexport default defineApp({ games: [tally] })\n`)
    // Consecutive free ports: the front door and two ranges of two nodes each.
    const port = freeRun(4)
    proc = Bun.spawn(["bun", "framework/cli/main.ts", "dev", APP, "--port", String(port), "--nodes", "2"], {
      cwd: ROOT,
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, BATON_MAX_LIFETIME_MS: "90000" },
    })
    let out = ""
    void (async () => {
      const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader()
      for (let r = await reader.read(); !r.done; r = await reader.read()) out += new TextDecoder().decode(r.value)
    })()
    await waitUntil(() => /status: n-\w+ ready \d+ \| n-\w+ ready \d+/.test(out), "two ready nodes", { timeoutMs: 20_000 })
    const url = `http://127.0.0.1:${port}`
    const { id } = await createSession({ url, game: "tally" })
    const player = await join({ url, session: id, player: "ada", backoffMs: 20, maxBackoffMs: 200 })
    await player.act("add", { n: 1 })

    const roll = Bun.spawn(["bun", "framework/cli/main.ts", "roll", "--port", String(port)], { cwd: ROOT, stdout: "pipe" })
    const progress = await new Response(roll.stdout).text()
    expect(await roll.exited).toBe(0)
    expect(progress).toContain("roll to dev-2: 2 nodes, one at a time")
    expect(progress).toMatch(/\[1\/2\] starting dev-2 on :\d+/)
    expect(progress).toMatch(/\[2\/2\] .* (moved \d+ of \d+ sessions in \d+ ms|stopped)/)
    expect(progress).toContain("roll to dev-2 done")
    await player.act("add", { n: 2 })
    await waitUntil(() => (player.state as { total: number }).total === 3, "the session carries on after the roll")

    // Edit the game: a new state version with a migration. The dev cluster rolls onto it by itself.
    writeFileSync(resolve(APP, "tally.ts"), gameSource(2))
    await waitUntil(() => out.includes("roll to dev-3 done"), "the edit rolls the cluster", { timeoutMs: 60_000 })
    await player.act("add", { n: 4 })
    await waitUntil(() => (player.state as { total: number; edits?: number }).edits === 1, "the state was migrated to version 2")
    expect((player.state as { total: number }).total).toBe(7)
    player.close()
    proc.kill("SIGINT")
    expect(await proc.exited).toBe(0)
  }, 120_000)
})
