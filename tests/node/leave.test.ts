import { afterAll, describe, expect, test } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join as joinPath } from "node:path"
import counter from "../../app/games/counter.ts"
import * as v from "valibot"
import { defineGame } from "../../framework/game/index.ts"
import { BatonNode, createLogger } from "../../framework/node/index.ts"
import { type ClientMessage, CloseCode, type PlayerLink } from "../../framework/protocol/index.ts"
import tally from "../fixtures/app/tally.ts"
import { waitUntil } from "../support/wait.ts"

const silent = createLogger({}, "silent")
const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const link = (): PlayerLink & { frames: string[] } => {
  const frames: string[] = []
  return { frames, send: (f) => void frames.push(f), close() {} }
}
const left = (l: { frames: string[] }) => l.frames.some((f) => f.startsWith('{"t":"left"'))
const joined = (l: { frames: string[] }) => l.frames.some((f) => f.startsWith('{"t":"joined"'))

/** A new connection to `node` that sends `join` (the link may be one made to watch its frames). */
function joining<L extends PlayerLink>(node: BatonNode, join: Extract<ClientMessage, { t: "join" }>, l: L): L {
  node.open(l)
  node.handle(l, join)
  return l
}

/** A node whose sessions are "replicated" (tally): alone, its acks wait for the journal on disk. */
async function journaled(): Promise<BatonNode> {
  const dir = mkdtempSync(joinPath(tmpdir(), "baton-leave-"))
  dirs.push(dir)
  return BatonNode.start({ games: [tally], log: silent, dataDir: dir })
}

/** A link that notes how far the journal held its session when "left" was sent to it. */
function leftWatcher(node: BatonNode, session: string): PlayerLink & { frames: string[]; ackedWhenLeft: number } {
  const l = Object.assign(link(), { ackedWhenLeft: -1 })
  const send = l.send
  l.send = (f) => {
    if (f.startsWith('{"t":"left"')) l.ackedWhenLeft = node.hosted(session)?.acknowledgedRev ?? -1
    return send(f)
  }
  return l
}

/** Counts its hooks' runs in its state: a seat taken or given up twice shows. */
const doors = defineGame({
  name: "doors",
  version: 1,
  players: { min: 1, max: 4 },
  state: v.object({ joins: v.number(), leaves: v.number() }),
  setup: () => ({ joins: 0, leaves: 0 }),
  onJoin: ({ state }) => void state.joins++,
  onLeave: ({ state }) => void state.leaves++,
  actions: {},
})

describe("a player's leave on the node", () => {
  test("one that arrives while its session is frozen (being handed over) waits with the actions: no left, the seat still held", async () => {
    // Applied to a copy whose final document is already on its way to the new owner, it was answered
    // "left" and lost: the new owner still seated the player (found in review).
    const node = await BatonNode.start({ games: [counter], log: silent })
    try {
      const { id } = node.createLocal("counter", undefined, "s-leave-frozen")
      const ada = joining(node, { t: "join", session: id, player: "ada", client: "c1" }, link())
      const h = node.hosted(id)
      if (!h) throw new Error("no hosted session")
      h.frozen = true
      node.handle(ada, { t: "leave" })
      expect(left(ada)).toBe(false)
      expect(h.session.record.players.map((s) => s.player)).toEqual(["ada"])
      // Thawed (the handoff found no taker), it runs as the node's thaw runs queued frames: in order.
      h.frozen = false
      for (const { link: l, msg } of h.queued.splice(0)) node.handle(l, msg)
      expect(h.session.record.players).toEqual([])
      await waitUntil(() => left(ada), "left is sent")
    } finally {
      await node.stop()
    }
  })

  test('under "replicated", left waits like an ack: here, for the journal write that holds the leave', async () => {
    const node = await journaled()
    try {
      const { id } = node.createLocal("tally", undefined, "s-leave-replicated")
      // Checked at every frame ada is sent: when "left" goes, the journal holds the leave's revision.
      const ada = joining(node, { t: "join", session: id, player: "ada", client: "c1" }, leftWatcher(node, id))
      await waitUntil(() => joined(ada), "ada is seated")
      const h = node.hosted(id)
      expect(h?.holdAcks).toBe(true)
      node.handle(ada, { t: "leave" })
      const leftAt = h?.session.record.rev ?? 0
      expect(left(ada)).toBe(false)
      await waitUntil(() => left(ada), "left is sent once the journal holds the leave")
      expect(ada.ackedWhenLeft).toBeGreaterThanOrEqual(leftAt)
      expect(h?.session.record.players).toEqual([])
    } finally {
      await node.stop()
    }
  })

  test("a leave whose left still waits when the session leaves the node is sent away with the others, not left unanswered", async () => {
    // A session collected (or handed over, or fenced) between the leave and its "left": the link heard nothing
    // more, and the SDK waited out its timeout (forever with no limit) instead of finding the session again.
    const dir = mkdtempSync(joinPath(tmpdir(), "baton-leave-"))
    dirs.push(dir)
    const node = await BatonNode.start({ games: [tally], log: silent, dataDir: dir, unjoinedMs: 0 })
    try {
      const { id } = node.createLocal("tally", undefined, "s-leave-dropped")
      const ada = Object.assign(link(), { closedWith: undefined as number | undefined })
      ada.close = (code) => void (ada.closedWith = code)
      node.open(ada)
      node.handle(ada, { t: "join", session: id, player: "ada", client: "c1" })
      await waitUntil(() => joined(ada), "ada is seated")
      node.handle(ada, { t: "leave" })
      // Nobody left, nobody ever acted: collected at once (unjoinedMs 0), before the journal's write returns.
      node.collect()
      expect(node.hosted(id)).toBeUndefined()
      expect(ada.closedWith).toBe(CloseCode.sessionGone)
    } finally {
      await node.stop()
    }
  })

  test("a join that only gives the seat up (the SDK's leave again, on a new connection): the hooks run once however often it comes", async () => {
    // The first leave was applied and its "left" lost with the connection. Seated again by a plain join,
    // the player ran the game's onJoin and onLeave a second time.
    const node = await BatonNode.start({ games: [doors], log: silent })
    try {
      const { id } = node.createLocal("doors", undefined, "s-join-to-leave")
      const ada = joining(node, { t: "join", session: id, player: "ada", client: "c1" }, link())
      node.handle(ada, { t: "leave" })
      await waitUntil(() => left(ada), "the first leave is confirmed")
      const again = joining(node, { t: "join", session: id, player: "ada", client: "c1", leave: true }, link())
      await waitUntil(() => left(again), "the join to leave is answered left")
      expect(joined(again)).toBe(false)
      const h = node.hosted(id)
      expect(h?.session.record.state).toEqual({ joins: 1, leaves: 1 })
      // Seated (its leave was lost before the node read it): the join to leave frees the seat, once.
      const bob = joining(node, { t: "join", session: id, player: "bob", client: "c2" }, link())
      const bobAgain = joining(node, { t: "join", session: id, player: "bob", client: "c2", leave: true }, link())
      await waitUntil(() => left(bobAgain), "bob's join to leave is answered left")
      expect(h?.session.record.players).toEqual([])
      expect(h?.session.record.state).toEqual({ joins: 2, leaves: 2 })
      // The connection holds no seat after it: it may join again, or join another session.
      node.handle(bobAgain, { t: "join", session: id, player: "bob", client: "c2" })
      expect(joined(bobAgain)).toBe(true)
    } finally {
      await node.stop()
    }
  })

  test("a join to leave that arrives while its session is frozen waits in the queue, then frees the seat", async () => {
    const node = await BatonNode.start({ games: [doors], log: silent })
    try {
      const { id } = node.createLocal("doors", undefined, "s-join-to-leave-frozen")
      const ada = joining(node, { t: "join", session: id, player: "ada", client: "c1" }, link())
      const h = node.hosted(id)
      if (!h) throw new Error("no hosted session")
      h.frozen = true
      const again = joining(node, { t: "join", session: id, player: "ada", client: "c1", leave: true }, link())
      expect(left(again)).toBe(false)
      expect(h.session.record.players.map((s) => s.player)).toEqual(["ada"])
      // One for a player with no seat takes no place in the queue (the seated players'): answered at once.
      const stranger = joining(node, { t: "join", session: id, player: "eve", client: "c9", leave: true }, link())
      expect(h.queued).toHaveLength(1)
      await waitUntil(() => left(stranger), "left at once for a player with no seat")
      h.frozen = false
      for (const { link: l, msg } of h.queued.splice(0)) node.handle(l, msg)
      await waitUntil(() => left(again), "left once thawed")
      expect(h.session.record.players).toEqual([])
      expect(h.session.record.state).toEqual({ joins: 1, leaves: 1 })
    } finally {
      await node.stop()
    }
  })

  test('under "replicated", a join to leave for a player already gone waits for the journal too: the first leave may not be held yet', async () => {
    const node = await journaled()
    try {
      const { id } = node.createLocal("tally", undefined, "s-join-to-leave-replicated")
      const ada = joining(node, { t: "join", session: id, player: "ada", client: "c1" }, link())
      await waitUntil(() => joined(ada), "ada is seated")
      node.handle(ada, { t: "leave" })
      const leftAt = node.hosted(id)?.session.record.rev ?? 0
      // At once, before the first leave's journal write returns: its answer waits for that write, and so does this one's.
      const again = joining(node, { t: "join", session: id, player: "ada", client: "c1", leave: true }, leftWatcher(node, id))
      expect(left(again)).toBe(false)
      await waitUntil(() => left(again), "left once the journal holds the leave")
      expect(again.ackedWhenLeft).toBeGreaterThanOrEqual(leftAt)
    } finally {
      await node.stop()
    }
  })
})
