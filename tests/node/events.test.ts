import { afterAll, describe, expect, test } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join as joinPath } from "node:path"
import { createSession, type GameSession, join } from "batonjs/client"
import counter from "../../app/games/counter.ts"
import { rank, systemClock } from "../../framework/cluster/index.ts"
import { BatonNode, createLogger, type NodeEvent } from "../../framework/node/index.ts"
import type { PlayerLink } from "../../framework/protocol/index.ts"
import { TestCluster } from "../support/cluster.ts"
import { startNodeProcess, stopAllNodes } from "../support/node-process.ts"

const dirs: string[] = []
const players: GameSession[] = []
afterAll(async () => {
  for (const p of players) p.close()
  await stopAllNodes()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** The runtime's clock, read at a fixed time: events must carry the node's clock, not the wall clock. */
const FIXED = Date.UTC(2030, 0, 1)
const fixedClock = { ...systemClock, now: () => FIXED }

const silent = createLogger({}, "silent")
const link = (): PlayerLink & { frames: string[] } => {
  const frames: string[] = []
  return { frames, send: (f) => void frames.push(f), close() {} }
}

describe("a lone node's events", () => {
  test("are typed, stamped with the node's clock and id, in the order things happened", async () => {
    const events: NodeEvent[] = []
    const node = await BatonNode.start({ games: [counter], log: silent, clock: fixedClock, onEvent: (e) => events.push(e) })
    const { id } = node.createLocal("counter", undefined, "s-events-1")
    const player = link()
    node.open(player)
    node.handle(player, { t: "join", session: id, player: "ada", client: "c1" })
    node.close(player)
    // Back on a new connection: the same seat, not a second player-joined.
    const again = link()
    node.open(again)
    node.handle(again, { t: "join", session: id, player: "ada", client: "c1" })
    expect(again.frames.some((f) => f.includes('"t":"joined"'))).toBe(true)
    await node.stop()
    expect(events).toEqual([
      { t: "session-created", session: id, game: "counter", time: FIXED, node: node.id },
      { t: "player-joined", session: id, player: "ada", seat: 0, time: FIXED, node: node.id },
      { t: "stopped", sessions: 1, ms: expect.any(Number), unreadable: [], time: FIXED, node: node.id },
    ])
  })

  test("on() subscribes and returns what unsubscribes; a listener that throws breaks nothing", async () => {
    const node = await BatonNode.start({ games: [counter], log: silent })
    const seen: string[] = []
    node.events.on(() => {
      throw new Error("a broken observer")
    })
    const off = node.events.on((e) => seen.push(e.t))
    node.createLocal("counter", undefined, "s-events-2")
    off()
    node.createLocal("counter", undefined, "s-events-3")
    expect(seen).toEqual(["session-created"])
    expect(node.sessionCount).toBe(2)
    await node.stop()
  })

  test("failures are events too, with the error id the client was told", async () => {
    const events: NodeEvent[] = []
    const node = await BatonNode.start({ games: [counter], log: silent, onEvent: (e) => events.push(e) })
    const player = link()
    node.open(player)
    // A frame that makes the node throw (here: none at all).
    node.handle(player, null as never)
    const failed = events.find((e) => e.t === "handler-failed")
    expect(failed).toMatchObject({ t: "handler-failed", site: "player-frame", node: node.id })
    expect(player.frames.some((f) => f.includes(String((failed as { errorId: string }).errorId)))).toBe(true)
    await node.stop()
  })

  test("with a data dir, onEvent sees what happens while the node starts (sessions resumed)", async () => {
    const dir = mkdtempSync(joinPath(tmpdir(), "baton-events-"))
    dirs.push(dir)
    const first = await BatonNode.start({ games: [counter], log: silent, dataDir: dir })
    first.createLocal("counter", undefined, "s-events-4")
    await first.stop()
    const events: NodeEvent[] = []
    const second = await BatonNode.start({ games: [counter], log: silent, dataDir: dir, onEvent: (e) => events.push(e) })
    expect(events.map((e) => e.t)).toEqual(["sessions-resumed"])
    expect(events[0]).toMatchObject({ resumed: 1, stored: 1, node: second.id })
    await second.stop()
  })
})

describe("a node process's events, over Bun IPC", () => {
  test("baton start sends every event to the parent that spawned it with ipc", async () => {
    const node = await startNodeProcess()
    expect(node.events[0]).toMatchObject({ t: "listening", url: node.url, node: node.id, games: expect.arrayContaining(["counter"]) })
    const { id } = await createSession({ url: node.url, game: "counter" })
    const p = await join<typeof counter>({ url: node.url, session: id, player: "ada" })
    players.push(p as unknown as GameSession)
    await node.waitForEvent("player-joined", (e) => e.session === id && e.player === "ada")
    p.close()
    expect(await node.stop()).toBe(0)
    // The last events reach the parent before the process exits.
    expect(node.events.map((e) => e.t)).toEqual(["listening", "session-created", "player-joined", "stopped"])
    expect(node.events.every((e) => e.node === node.id && typeof e.time === "number")).toBe(true)
  })

  test("a cluster's members, a drain and the handoffs it makes", async () => {
    const c = await TestCluster.start(2)
    try {
      const [a, b] = c.nodes as [NonNullable<(typeof c.nodes)[0]>, NonNullable<(typeof c.nodes)[0]>]
      // Events travel over IPC, HTTP answers over a socket: an answer can overtake the event.
      await a.waitForEvent("member-up", (e) => e.member === b.id)
      // Placement hashes each session's id (rendezvous): six sessions all land on b one time in 64.
      // Create until a owns two by that ranking (bounded), so the drain has something to hand over.
      const members = [a.id, b.id].map((id) => ({ id, version: "same" }))
      const ids: string[] = []
      while (ids.filter((s) => rank(s, members)[0]?.id === a.id).length < 2 && ids.length < 64) ids.push((await createSession({ url: a.url, game: "counter" })).id)
      expect(await a.stop()).toBe(0)
      // Once the process has exited every event it sent has arrived.
      expect(a.eventsOf("member-up", (e) => e.member === b.id)).toHaveLength(1)
      const onA = a.eventsOf("session-created").map((e) => e.session)
      expect(onA.length).toBeGreaterThan(0)
      const drained = a.eventsOf("drained")[0]
      expect(drained).toMatchObject({ sessions: onA.length, moved: onA.length, failed: 0 })
      expect(a.eventsOf("session-released").map((e) => e.session).sort()).toEqual([...onA].sort())
      for (const s of onA) await b.waitForEvent("session-adopted", (e) => e.session === s && e.via === `handoff from ${a.id}`)
      await b.waitForEvent("member-down", (e) => e.member === a.id && e.why === "left the cluster")
    } finally {
      await c.stopAll()
    }
  }, 60_000)
})
