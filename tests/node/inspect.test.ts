import { afterEach, describe, expect, test } from "bun:test"
import { Session, type SessionRecord } from "../../framework/game/index.ts"
import { HostedSession } from "../../framework/node/hosted.ts"
import { exportHistory, inspectView } from "../../framework/node/inspect.ts"
import { Store } from "../../framework/store/index.ts"
import notes from "../fixtures/app/notes.ts"

const timers = { setTimeout: () => undefined, clearTimeout() {}, setInterval: () => undefined, clearInterval() {}, now: () => 0 }
let store: Store | undefined
afterEach(async () => {
  await store?.close()
  store = undefined
})

/** A session hosted as a node hosts it, checkpointed into a real store after every step (no coalescing). */
async function hosted(opts: { compactAfter?: number } = {}) {
  store = await Store.open({ peerId: "n-test", checkpointMs: 0, ...opts })
  const s = store
  const h = new HostedSession(Session.create(notes, { id: "s1", now: 0, seed: "fixed" }), timers)
  s.create(h.session.record, "n-test")
  h.takeCheckpoint()
  let id = 0
  const checkpoint = (withSteps = true) => {
    const rec = h.takeCheckpoint()
    const steps = h.takeSteps()
    if (rec) s.checkpoint(rec, withSteps ? steps : [])
    s.writeCheckpoints(Number.POSITIVE_INFINITY, true)
  }
  const act = (name: string, input: unknown, now: number) => h.act({ player: "ada", client: "c1", id: ++id, name, input, now })
  const read = () => ({ node: "n-test", now: 1_000, game: notes, history: s.history("s1"), live: undefined })
  return { h, s, act, checkpoint, read }
}

describe("a session's history as the inspector reads it", () => {
  test("after compactions the history starts at the newest document's base, and the export from there replays to the end", async () => {
    const { h, act, checkpoint, read } = await hosted({ compactAfter: 3 })
    h.join("ada", 1)
    checkpoint()
    for (let i = 0; i < 8; i++) {
      act("add", { text: `n${i}` }, 10 + i)
      if (i % 2) act("roll", {}, 20 + i)
      checkpoint()
    }
    const file = exportHistory(read())
    expect(file?.start.rev).toBeGreaterThan(1) // compacted: the start is no longer the session as created
    expect(file?.end).toEqual(h.session.record)
    expect(Session.replay(notes, file, { check: true }).record).toEqual(h.session.record)
  })

  test("a checkpoint whose steps are missing (an older node wrote it) is shown, and the export starts after it", async () => {
    const { h, act, checkpoint, read } = await hosted()
    h.join("ada", 1)
    checkpoint()
    act("add", { text: "recorded" }, 2)
    checkpoint()
    act("add", { text: "lost" }, 3)
    act("roll", {}, 4)
    checkpoint(false)
    act("add", { text: "after" }, 5)
    h.advance(6)
    checkpoint()
    const view = inspectView(read(), 50, () => "")
    expect(view?.history.checkpoints.map((c) => [c.steps.length, c.replayable])).toEqual([
      [1, true],
      [1, true],
      [0, false],
      [1, true],
    ])
    expect(view?.history.replayFrom).toBe(2)
    expect(view?.history.checkpoints[2]?.changes).toContainEqual({ path: "state.notes[1]", kind: "added", after: { by: "ada", text: "lost" } })
    const file = exportHistory(read())
    expect((file?.start.state as SessionRecord<{ notes: unknown[] }>["state"]).notes).toHaveLength(2)
    expect(file?.steps.map((s) => s.k)).toEqual(["act"])
    expect(Session.replay(notes, file, { check: true }).record).toEqual(h.session.record)
    // The ledger shows the steps it has, newest last.
    expect(view?.ledger.map((s) => (s.k === "act" ? (s.input as { text: string }).text : s.k))).toEqual(["join", "recorded", "after"])
  })
})
