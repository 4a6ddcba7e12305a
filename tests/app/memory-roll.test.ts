import { afterAll, describe, expect, test } from "bun:test"
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { type GameSession, createSession, join as joinSession } from "batonjs/client"
import type memory from "../../app/games/memory.ts"
import { type FrontDoor, startFrontDoor } from "../../framework/cli/front-door.ts"
import { TestCluster } from "../support/cluster.ts"
import { waitUntil } from "../support/wait.ts"

/**
 * Memory's version 2 keeps the turn with `turns` (version 1 hand-rolled it):
 * a new state shape, and new timer payloads. A rolling deploy from version
 * 1: two nodes run app/games/memory.ts as it was at version 1 (read from
 * the git history), players sit down and start a game; each node is then
 * replaced by one running version 2. Every session moves to a version-2
 * node, is migrated there, and plays on: the version-1 turn clock passes the
 * turn, the players flip cards, a game that was waiting starts.
 */
const MEMORY_V1 = "130bfabf4e2717be991c07f52265b82fff278d15" // app/games/memory.ts at version 1
const ROOT = resolve(import.meta.dir, "../..")

let c: TestCluster | undefined
let door: FrontDoor | undefined
let dir: string | undefined
const players: GameSession<typeof memory>[] = []

afterAll(async () => {
  for (const p of players) p.close()
  door?.stop()
  await c?.stopAll()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

/** An app whose memory game is version 1 or 2, by BATON_TEST_GAME_VERSION (the roll changes it). */
function appOfBothVersions(): string {
  const v1 = Bun.spawnSync(["git", "show", `${MEMORY_V1}:app/games/memory.ts`], { cwd: ROOT })
  if (v1.exitCode !== 0) throw new Error(`this checkout lacks commit ${MEMORY_V1} (a shallow clone?): the test needs memory's version 1 from the history`)
  const app = mkdtempSync(join(tmpdir(), "baton-memory-roll-"))
  symlinkSync(join(ROOT, "node_modules"), join(app, "node_modules")) // "batonjs" resolves to this checkout
  writeFileSync(join(app, "memory-v1.ts"), v1.stdout)
  writeFileSync(
    join(app, "index.ts"),
    [
      `import { defineApp } from "batonjs/server"`,
      `import v2 from ${JSON.stringify(join(ROOT, "app/games/memory.ts"))}`,
      `import v1 from "./memory-v1.ts"`,
      `export default defineApp({ games: [process.env.BATON_TEST_GAME_VERSION === "2" ? v2 : v1] })`,
    ].join("\n"),
  )
  return app
}

describe("memory: a rolling deploy from version 1 to version 2", () => {
  test("sessions of version 1 move to version-2 nodes, are migrated and play on", async () => {
    dir = appOfBothVersions()
    const v = (n: number) => ({ BATON_TEST_GAME_VERSION: String(n), BATON_APP_VERSION: String(n) })
    c = await TestCluster.start(2, v(1), dir)
    const cluster = c
    const front = startFrontDoor(0, "127.0.0.1", () => cluster.live.map((n) => n.url))
    door = front
    const sit = async (session: string, player: string) => {
      const p = await joinSession<typeof memory>({ url: front.url, session, player, backoffMs: 20, maxBackoffMs: 300 })
      players.push(p)
      return p
    }
    // Playing: ada's turn, her clock running. Waiting: seated, not started.
    const playing = (await createSession({ url: cluster.nodes[0]!.url, game: "memory" })).id
    const waiting = (await createSession({ url: cluster.nodes[1]!.url, game: "memory" })).id
    const [ada, bob] = [await sit(playing, "ada"), await sit(playing, "bob")]
    const [cy, dee] = [await sit(waiting, "cy"), await sit(waiting, "dee")]
    await ada.act("start")
    await waitUntil(() => bob.state.turn === "ada" && bob.state.turnEndsAt !== null, "bob sees ada's turn")
    const deadline = bob.state.turnEndsAt as number

    const steps = await cluster.roll(v(2))
    for (const step of steps) expect(step).toMatchObject({ exitCode: 0, failed: 0 })
    // Each session was adopted from a version-1 record by a node running version 2.
    for (const id of [playing, waiting]) {
      const adopted = cluster.nodes.flatMap((n) => n.eventsOf("session-adopted", (e) => e.session === id))
      expect(adopted.some((e) => e.fromVersion === 1 && e.toVersion === 2)).toBe(true)
    }

    // The clock version 1 started passes ada's turn at its deadline; bob's try gets a clock of its own.
    await waitUntil(() => bob.state.turn === "bob", "the turn clock passes ada's turn", { timeoutMs: 60_000 })
    expect(bob.state.turnEndsAt).toBeGreaterThan(deadline)
    const first = await bob.act("flip", { index: 0 })
    expect(typeof first.face).toBe("number")
    const second = await bob.act("flip", { index: 1 })
    expect(second.match).toBe(first.face === second.face)
    // Ada's view is another connection (maybe through another node): it shows bob's point a moment after bob's answer.
    if (second.match) await waitUntil(() => ada.state.scores.bob === 1, "ada sees bob's point")
    // A miss is shown, then the show's timer (scheduled by version 2) passes the turn back to ada.
    else await waitUntil(() => ada.state.turn === "ada" && !ada.state.showing, "the missed pair is turned back and ada plays")

    // The game that was waiting starts under version 2.
    await dee.act("start")
    await waitUntil(() => dee.state.turn === "cy" && dee.state.phase === "playing", "the waiting game starts")
    expect(await cy.act("flip", { index: 3 })).toMatchObject({ face: expect.any(Number) })
    expect(dee.state.order).toEqual(["cy", "dee"])
  }, 180_000)
})
