import { afterAll, describe, expect, test } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join as joinPath } from "node:path"
import counter from "../../app/games/counter.ts"
import { BatonNode, createLogger } from "../../framework/node/index.ts"
import { CloseCode, type PlayerLink } from "../../framework/protocol/index.ts"
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

describe("a player's leave on the node", () => {
  test("one that arrives while its session is frozen (being handed over) waits with the actions: no left, the seat still held", async () => {
    // Applied to a copy whose final document is already on its way to the new owner, it was answered
    // "left" and lost: the new owner still seated the player (found in review).
    const node = await BatonNode.start({ games: [counter], log: silent })
    try {
      const { id } = node.createLocal("counter", undefined, "s-leave-frozen")
      const ada = link()
      node.open(ada)
      node.handle(ada, { t: "join", session: id, player: "ada", client: "c1" })
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
    const dir = mkdtempSync(joinPath(tmpdir(), "baton-leave-"))
    dirs.push(dir)
    const node = await BatonNode.start({ games: [tally], log: silent, dataDir: dir })
    try {
      const { id } = node.createLocal("tally", undefined, "s-leave-replicated")
      const ada = link()
      node.open(ada)
      node.handle(ada, { t: "join", session: id, player: "ada", client: "c1" })
      await waitUntil(() => ada.frames.some((f) => f.startsWith('{"t":"joined"')), "ada is seated")
      const h = node.hosted(id)
      expect(h?.holdAcks).toBe(true)
      // Checked at every frame ada is sent: when "left" goes, the journal holds the leave's revision.
      let ackedWhenLeft = -1
      const send = ada.send
      ada.send = (f) => {
        if (f.startsWith('{"t":"left"')) ackedWhenLeft = h?.acknowledgedRev ?? -1
        return send(f)
      }
      node.handle(ada, { t: "leave" })
      const leftAt = h?.session.record.rev ?? 0
      expect(left(ada)).toBe(false)
      await waitUntil(() => left(ada), "left is sent once the journal holds the leave")
      expect(ackedWhenLeft).toBeGreaterThanOrEqual(leftAt)
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
      await waitUntil(() => ada.frames.some((f) => f.startsWith('{"t":"joined"')), "ada is seated")
      node.handle(ada, { t: "leave" })
      // Nobody left, nobody ever acted: collected at once (unjoinedMs 0), before the journal's write returns.
      node.collect()
      expect(node.hosted(id)).toBeUndefined()
      expect(ada.closedWith).toBe(CloseCode.sessionGone)
    } finally {
      await node.stop()
    }
  })
})
