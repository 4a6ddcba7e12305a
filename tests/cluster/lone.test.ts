import { afterAll, describe, expect, test } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join as joinPath } from "node:path"
import { createSession, type GameSession, join } from "batonjs/client"
import type counter from "../../app/games/counter.ts"
import { TEST_SECRET } from "../support/cluster.ts"
import { freePort, startNodeProcess, stopAllNodes } from "../support/node-process.ts"
import { waitUntil } from "../support/wait.ts"

const dir = mkdtempSync(joinPath(tmpdir(), "baton-lone-"))
const players: GameSession[] = []
afterAll(async () => {
  for (const p of players) p.close()
  await stopAllNodes()
  rmSync(dir, { recursive: true, force: true })
})

const env = { BATON_CLUSTER_SECRET: TEST_SECRET, BATON_HEARTBEAT_MS: "200" }

describe("a lone node told to stop", () => {
  test("without a disk store it waits for a peer, hands its sessions over, then exits (a one-machine deploy)", async () => {
    const oldPort = freePort()
    const old = await startNodeProcess({ port: oldPort, env })
    const { id } = await createSession({ url: old.url, game: "counter" })
    const p = await join<typeof counter>({ url: old.url, session: id, player: "ada", backoffMs: 20, maxBackoffMs: 200 })
    players.push(p as unknown as GameSession)
    await p.act("inc", { by: 3 })
    old.proc.kill("SIGTERM")
    await old.waitForEvent("drain-waiting")
    expect(old.proc.exitCode).toBeNull()
    // The new process starts and joins the old one; the old one hands over and exits.
    const next = await startNodeProcess({ env: { ...env, BATON_PEERS: old.url } })
    expect(await old.proc.exited).toBe(0)
    expect(old.eventsOf("drained")).toEqual([expect.objectContaining({ sessions: 1, moved: 1, failed: 0 })])
    await waitUntil(() => p.status === "open" && p.state.total === 3, "the player is resumed on the new node")
    expect(await p.act("inc", { by: 1 })).toBe(4)
    await next.kill()
  })

  test("with a disk store it stops at once and resumes its sessions on the next start", async () => {
    const port = freePort()
    const first = await startNodeProcess({ port, env: { ...env, BATON_DATA_DIR: dir } })
    const { id } = await createSession({ url: first.url, game: "counter" })
    const p = await join<typeof counter>({ url: first.url, session: id, player: "bob", backoffMs: 20, maxBackoffMs: 200 })
    players.push(p as unknown as GameSession)
    await p.act("inc", { by: 5 })
    expect(await first.stop()).toBe(0)
    expect(first.eventsOf("drain-kept-on-disk")).toHaveLength(1)
    const second = await startNodeProcess({ port, env: { ...env, BATON_DATA_DIR: dir } })
    await second.waitForEvent("session-adopted", (e) => e.session === id)
    await waitUntil(() => p.status === "open", "the player is back")
    expect(await p.act("inc", { by: 1 })).toBe(6)
  })
})
