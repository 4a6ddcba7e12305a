import { afterEach, describe, expect, test } from "bun:test"
import * as A from "@automerge/automerge"
import { Session } from "batonjs"
import counter from "../../app/games/counter.ts"
import { readSessionDoc, type SessionDoc, Store } from "../../framework/store/index.ts"
import { toAutomerge } from "../../framework/store/automerge-json.ts"
import { waitUntil } from "../support/wait.ts"

const T0 = 1_700_000_000_000
let store: Store | undefined
afterEach(async () => {
  await store?.close()
  store = undefined
})

/** A counter session with `players` players who have acted `actions` times in all (round robin). */
function played(players: number, actions: number): Session<typeof counter> {
  const s = Session.create(counter, { id: "s1", now: T0, seed: "seed" })
  for (let p = 0; p < players; p++) s.join(`p${p}`, T0)
  for (let i = 0; i < actions; i++) act(s, i, players)
  return s
}

function act(s: Session<typeof counter>, i: number, players = 4): void {
  const p = i % players
  const out = s.act({ player: `p${p}`, client: `c${p}`, id: Math.floor(i / players) + 1, name: "inc", input: { by: 1 }, now: T0 + i })
  if (!out.ok) throw new Error(`act ${i}: ${out.code}`)
}

async function open(opts: Partial<Parameters<typeof Store.open>[0]> = {}): Promise<Store> {
  store = await Store.open({ peerId: "store-test", checkpointMs: 0, ...opts })
  return store
}

/** The record as documents of older versions kept it: success answers left the ledger (only seq and refusals were stored). */
function withoutAnswers(record: Session["record"]): Session["record"] {
  const clients = Object.fromEntries(Object.entries(record.clients).map(([id, l]) => [id, { ...l, results: l.results.filter((r) => !r[1]) }]))
  return { ...record, clients }
}

describe("session documents", () => {
  test("a record written checkpoint after checkpoint reads back from the document's bytes", async () => {
    const st = await open()
    const s = played(4, 0)
    st.create(s.record, "n1")
    for (let i = 0; i < 40; i++) {
      act(s, i)
      st.checkpoint(s.record)
      st.writeCheckpoints()
    }
    const copy = Store.fromBytes(st.saveNow(s.record))
    expect(copy.record).toEqual(s.record)
    expect(copy.record.state).toEqual({ total: 40, players: { p0: { count: 10 }, p1: { count: 10 }, p2: { count: 10 }, p3: { count: 10 } } })
    expect(copy.epoch).toBe(1)
    // The ledger's counter survives: a resend of an applied action is recognised after a move.
    expect(copy.record.clients.c0?.seq).toBe(10)
  })

  test("an action's answer travels with its checkpoint: a resend to a session resumed from the document gets the original value", async () => {
    const st = await open()
    const s = played(2, 0)
    st.create(s.record, "n1")
    const answers: unknown[] = []
    for (let i = 0; i < 100; i++) {
      const out = s.act({ player: `p${i % 2}`, client: `c${i % 2}`, id: Math.floor(i / 2) + 1, name: "inc", input: { by: 1 }, now: T0 + i })
      answers.push(out.ok ? out.value : out.code)
      if (i % 7 === 0) {
        st.checkpoint(s.record)
        st.writeCheckpoints()
      }
    }
    // A refusal in the window too: its answer is kept beside the successes.
    const refused = s.act({ player: "p0", client: "c0", id: 51, name: "inc", input: { by: 99 }, now: T0 + 100 })
    expect(refused.ok).toBe(false)
    const moved = Session.resume(counter, Store.fromBytes(st.saveNow(s.record)).record)
    // Player p1's last action (id 50, total 100) and one inside the window (id 30, total 60).
    expect(moved.act({ player: "p1", client: "c1", id: 50, name: "inc", input: { by: 1 }, now: T0 + 200 })).toMatchObject({ ok: true, value: answers[99], duplicate: true })
    expect(moved.act({ player: "p1", client: "c1", id: 30, name: "inc", input: { by: 1 }, now: T0 + 200 })).toMatchObject({ ok: true, value: answers[59], duplicate: true })
    expect(moved.act({ player: "p0", client: "c0", id: 51, name: "inc", input: { by: 99 }, now: T0 + 200 })).toMatchObject({ ok: false, code: (refused as { code: string }).code })
    expect(moved.record.state.total).toBe(100)
  })

  test("a ledger's stored answers are read as whole action ids only (a document is input too)", () => {
    const s = played(2, 4)
    const stored = { ...s.record, clients: { c0: { player: "p0", seq: 2, at: T0, x: "[]", ok: { "1": 1, "2": 3, __proto__x: 5, "-1": 7, "1.5": 9, "01": 11 } } } }
    const copy = Store.fromBytes(A.save(A.from(toAutomerge({ epoch: 1, at: T0, record: stored }) as Record<string, unknown>)))
    expect(copy.record.clients.c0?.results).toEqual([
      [1, true, 1],
      [2, true, 3],
    ])
  })

  test("a checkpoint is one automerge operation, however much of the record changed", async () => {
    const st = await open()
    const s = played(4, 0)
    const url = st.create(s.record, "n1")
    // A new document is parked until it has something to sync: the first checkpoint opens it.
    act(s, 0)
    st.checkpoint(s.record)
    st.writeCheckpoints()
    const handle = await st.repo.find<SessionDoc>(url)
    const before = A.getAllChanges(handle.doc()).length
    for (let i = 1; i < 9; i++) act(s, i) // every player's count, the total, four ledgers, rev and activeAt change
    st.checkpoint(s.record)
    expect(st.writeCheckpoints()).toBe(1)
    const changes = A.getAllChanges(handle.doc())
    expect(changes.length).toBe(before + 1)
    expect(A.decodeChange(changes[changes.length - 1] as Uint8Array).ops.length).toBe(1)
  })

  test("a busy session's checkpoint stays small: a window of answers replaced wholesale is one value, and resends still get their answers", async () => {
    const st = await open()
    const s = played(4, 0)
    const url = st.create(s.record, "n1")
    const answers: unknown[] = []
    const lastEntry = async () => {
      const log = (await st.repo.find<SessionDoc>(url)).doc().log
      return { bytes: String(log[log.length - 1]).length, entries: log.length }
    }
    for (let round = 0; round < 3; round++) {
      // 400 actions between checkpoints (800 a second at the default period): every client's 64-answer window is new.
      for (let i = round * 400; i < (round + 1) * 400; i++) {
        const out = s.act({ player: `p${i % 4}`, client: `c${i % 4}`, id: Math.floor(i / 4) + 1, name: "inc", input: { by: 1 }, now: T0 + i })
        answers.push(out.ok ? out.value : out.code)
      }
      st.checkpoint(s.record)
      st.writeCheckpoints()
    }
    // One op per answer added and one per answer dropped made this entry ~22 KB, larger than the log's budget allows for long.
    const { bytes, entries } = await lastEntry()
    expect(bytes).toBeLessThan(5_000)
    expect(entries).toBe(3) // no compaction: the same document took every checkpoint
    expect(st.entry("s1")?.doc).toBe(url)
    const moved = Session.resume(counter, Store.fromBytes(st.saveNow(s.record)).record)
    expect(moved.record).toEqual(s.record)
    // p2's last action (id 300) and the oldest one still in its window (id 237).
    expect(moved.act({ player: "p2", client: "c2", id: 300, name: "inc", input: { by: 1 }, now: T0 + 2000 })).toMatchObject({ ok: true, value: answers[1198], duplicate: true })
    expect(moved.act({ player: "p2", client: "c2", id: 237, name: "inc", input: { by: 1 }, now: T0 + 2000 })).toMatchObject({ ok: true, value: answers[946], duplicate: true })
  })

  test("a checkpoint carries the steps since the one before, up to 64 of them; past that it is readable, not replayable", async () => {
    const st = await open()
    const s = played(4, 0)
    const url = st.create(s.record, "n1")
    const stepsOf = async () => {
      const log = (await st.repo.find<SessionDoc>(url)).doc().log
      return (JSON.parse(String(log[log.length - 1])) as { steps?: unknown[] }).steps
    }
    const run = (from: number, n: number) => {
      const steps = []
      for (let i = from; i < from + n; i++) {
        act(s, i)
        steps.push({ k: "act" as const, at: T0 + i, rev: s.record.rev, player: `p${i % 4}`, client: `c${i % 4}`, id: Math.floor(i / 4) + 1, name: "inc", input: { by: 1 }, ok: true })
      }
      st.checkpoint(s.record, steps)
      st.writeCheckpoints()
    }
    run(0, 64)
    expect(await stepsOf()).toHaveLength(64)
    run(64, 65)
    expect(await stepsOf()).toBeUndefined()
    expect(Store.fromBytes(st.saveNow(s.record)).record).toEqual(s.record)
  })

  test("checkpoints are coalesced: at most one per session per checkpointMs", async () => {
    let now = T0
    const st = await open({ checkpointMs: 100, clock: () => now })
    const s = played(4, 0)
    st.create(s.record, "n1")
    act(s, 0)
    st.checkpoint(s.record)
    expect(st.writeCheckpoints()).toBe(0) // written at create, less than 100 ms ago
    act(s, 1)
    st.checkpoint(s.record)
    now += 100
    expect(st.writeCheckpoints()).toBe(1) // the newest record, once
    expect(st.writeCheckpoints()).toBe(0)
  })

  test("compaction keeps a document's size bounded however many actions it saw", async () => {
    const st = await open({ compactAfterBytes: 8 * 1024 })
    const s = played(4, 0)
    const first = st.create(s.record, "n1")
    const sizes: number[] = []
    for (let i = 0; i < 4000; i++) {
      act(s, i)
      if (i % 10 === 9) {
        st.checkpoint(s.record)
        st.writeCheckpoints()
        if (i % 200 === 199) sizes.push(st.docSize("s1"))
      }
    }
    expect(st.entry("s1")?.doc).not.toBe(first) // rolled over to a fresh document
    // The last size is no bigger than the largest seen early on: growth is bounded, not linear.
    expect(Math.max(...sizes.slice(-5))).toBeLessThanOrEqual(Math.max(...sizes.slice(0, 10)) * 1.5)
    expect(Store.fromBytes(st.saveNow(s.record)).record).toEqual(s.record)
  })

  test("documents of the older layout (one automerge field per value) are still read", () => {
    const s = played(2, 6)
    const stored = withoutAnswers(s.record)
    const v1 = { epoch: 3, at: T0 + 5, record: { ...stored, clients: Object.fromEntries(Object.entries(stored.clients).map(([id, l]) => [id, { player: l.player, seq: l.seq, at: l.at, x: "[]" }])) } }
    const copy = Store.fromBytes(A.save(A.from(toAutomerge(v1) as Record<string, unknown>)))
    expect(copy.epoch).toBe(3)
    expect(copy.at).toBe(T0 + 5)
    expect(copy.record).toEqual(stored)
  })

  test("a value that is not a session document reads as nothing, not a crash", () => {
    expect(readSessionDoc(undefined)).toBeUndefined()
    expect(readSessionDoc({})).toBeUndefined()
    expect(() => Store.fromBytes(A.save(A.from({ hello: "world" })))).toThrow("holds no session")
  })
})

describe("a handoff continues the document", () => {
  test("the target writes on in the same document under the next epoch; the old owner's late writes lose", async () => {
    const a = await open()
    const b = await Store.open({ peerId: "store-test-b", checkpointMs: 0 })
    try {
      const s = played(4, 0)
      const url = a.create(s.record, "na")
      for (let i = 0; i < 12; i++) act(s, i)
      const bytes = a.saveNow(s.record) // the old owner's final checkpoint
      expect(b.continueFrom(s.record, "nb", 2, bytes, url)).toBe(true)
      expect(b.urlOf("s1")).toBe(url)
      const moved = Session.resume(counter, s.record)
      for (let i = 12; i < 20; i++) act(moved, i)
      b.checkpoint(moved.record)
      b.writeCheckpoints()
      // The old owner, not yet fenced, writes on in its copy; then the copies meet.
      for (let i = 12; i < 16; i++) act(s, i)
      a.checkpoint(s.record)
      a.writeCheckpoints(Number.POSITIVE_INFINITY, true)
      const merged = A.merge(A.load<SessionDoc>(b.saveNow(moved.record)), A.load<SessionDoc>(a.saveNow(s.record)))
      const copy = readSessionDoc(merged)
      expect(copy?.epoch).toBe(2)
      expect(copy?.record).toEqual(moved.record)
      // Bytes that do not end at the record handed over are refused (the target starts a fresh document).
      expect(b.continueFrom({ ...s.record, id: "s2", rev: 999 }, "nb", 2, bytes, url)).toBe(false)
      // A node that had no handle for the document keeps none after refusing the bytes.
      const c = await Store.open({ peerId: "nc", checkpointMs: 0 })
      try {
        const docId = url.replace(/^automerge:/, "") as never
        expect(c.continueFrom({ ...s.record, rev: 999 }, "nc", 2, bytes, url)).toBe(false)
        await waitUntil(() => c.repo.handles[docId] === undefined, "the refused document's handle removed", { timeoutMs: 5_000 })
      } finally {
        await c.close()
      }
    } finally {
      await b.close()
    }
  })
})
