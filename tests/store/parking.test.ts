import { afterEach, describe, expect, test } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as A from "@automerge/automerge"
import { Session } from "batonjs"
import counter from "../../app/games/counter.ts"
import { readSessionDoc, type SessionDoc, Store } from "../../framework/store/index.ts"
import { waitUntil } from "../support/wait.ts"

/**
 * A session's document is open (an automerge-repo handle) only while it has
 * something to sync: new documents start parked, idle ones are parked again
 * (framework/store/parking.ts). Parked, it is still the same automerge
 * document: its bytes, on disk with a data dir, found open by a peer.
 */

const T0 = 1_700_000_000_000
const stores: Store[] = []
const dirs: string[] = []
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

async function open(opts: Partial<Parameters<typeof Store.open>[0]> = {}): Promise<Store> {
  const st = await Store.open({ peerId: "parking-test", checkpointMs: 0, parkAfterMs: 1_000, clock: () => now, ...opts })
  stores.push(st)
  return st
}

let now = T0

function played(id = "s1"): Session<typeof counter> {
  const s = Session.create(counter, { id, now: T0, seed: "seed" })
  s.join("p0", T0)
  s.join("p1", T0)
  return s
}

let actions = 0
function act(s: Session<typeof counter>): void {
  actions++
  const out = s.act({ player: "p0", client: "c0", id: actions, name: "inc", input: { by: 1 }, now: T0 + actions })
  if (!out.ok) throw new Error(out.code)
}

/** A checkpoint of the session's current record, written now. */
function checkpoint(st: Store, s: Session<typeof counter>): void {
  st.checkpoint(s.record)
  expect(st.writeCheckpoints()).toBe(1)
}

const docId = (url: string) => url.replace(/^automerge:/, "") as never

/** automerge-repo DocHandles alive in this process (a heap snapshot's count). */
function liveHandles(): number {
  Bun.gc(true)
  const snapshot = Bun.generateHeapSnapshot() as unknown as { nodes: number[]; nodeClassNames: string[] }
  const handleClass = snapshot.nodeClassNames.indexOf("DocHandle")
  let handles = 0
  for (let i = 2; i < snapshot.nodes.length; i += 4) if (snapshot.nodes[i] === handleClass) handles++
  return handles
}

/** Until `count` documents are parked (the store looks every 100 ms by itself). */
const parked = (st: Store, count: number) => waitUntil(() => st.documents().parked === count, `${count} documents parked`, { timeoutMs: 5_000 })

describe("parked session documents", () => {
  test("a new document starts parked; its first change opens it; idle for parkAfterMs it is parked again, and reads the same", async () => {
    now = T0
    const st = await open()
    const s = played()
    const url = st.create(s.record, "n1")
    expect(st.documents()).toEqual({ open: 0, parked: 1 })
    expect(st.repo.handles[docId(url)]).toBeUndefined()
    expect(st.replicaCopy("s1")?.record).toEqual(s.record)

    act(s)
    checkpoint(st, s)
    expect(st.documents()).toEqual({ open: 1, parked: 0 })
    expect(st.repo.handles[docId(url)]?.isReady()).toBe(true)

    now += 999
    expect(st.parkIdle()).toBe(0)
    now += 1
    // Parked once automerge-repo's sync and save of the last change are past (SETTLE_MS, in real time).
    await parked(st, 1)
    await waitUntil(() => st.repo.handles[docId(url)] === undefined, "the handle is gone from the repo")
    // The same document, parked: its bytes hold the record, and a handoff carries them as they are.
    expect(st.urlOf("s1")).toBe(url)
    expect(st.replicaCopy("s1")?.record).toEqual(s.record)
    expect((await st.loadCopy("s1", 1_000))?.record).toEqual(s.record)
    expect(Store.fromBytes(st.saveNow(s.record)).record).toEqual(s.record)
    expect(st.heldCheckpoint(url)).toEqual({ rev: s.record.rev, epoch: 1 })
    expect(st.documents()).toEqual({ open: 0, parked: 1 })

    // Reopened by the next checkpoint: the changes go on in the same document, by the same actor.
    act(s)
    checkpoint(st, s)
    const doc = st.repo.handles[docId(url)]?.doc() as A.Doc<SessionDoc>
    expect(readSessionDoc(doc)?.record).toEqual(s.record)
    expect(new Set(A.getAllChanges(doc).map((c) => A.decodeChange(c).actor)).size).toBe(1)
  })

  test("a session nobody plays here is parked after quietParkAfterMs; one with players waits for parkAfterMs", async () => {
    now = T0
    const quiet = new Set<string>()
    const st = await open({ parkAfterMs: 30_000, quietParkAfterMs: 2_000, quiet: (id) => quiet.has(id) })
    const [a, b] = [played("s-left"), played("s-playing")]
    for (const s of [a, b]) {
      st.create(s.record, "n1")
      act(s)
      checkpoint(st, s)
    }
    expect(st.documents()).toEqual({ open: 2, parked: 0 })
    quiet.add("s-left") // its players left
    now += 1_999
    await Bun.sleep(300) // past SETTLE_MS: only the idle time keeps them open
    expect(st.parkIdle()).toBe(0)
    now += 1
    expect(st.parkIdle()).toBe(1)
    expect(st.documents()).toEqual({ open: 1, parked: 1 })
    expect(st.replicaCopy("s-left")?.record).toEqual(a.record)
    now += 28_000 - 1
    await Bun.sleep(150)
    expect(st.parkIdle()).toBe(0) // the session with players: the usual 30 s
    now += 1
    expect(st.parkIdle()).toBe(1)
    expect(st.replicaCopy("s-playing")?.record).toEqual(b.record)
  })

  test("a document is not parked while a checkpoint waits to be written", async () => {
    now = T0
    const st = await open({ checkpointMs: 60_000 })
    const s = played()
    st.create(s.record, "n1")
    act(s)
    st.checkpoint(s.record)
    st.writeCheckpoints(Number.POSITIVE_INFINITY, true)
    act(s)
    st.checkpoint(s.record) // coalesced: waits for checkpointMs
    now += 5_000
    await Bun.sleep(300) // past SETTLE_MS: only the waiting checkpoint keeps it open
    expect(st.parkIdle()).toBe(0)
    st.writeCheckpoints(Number.POSITIVE_INFINITY, true)
    await Bun.sleep(300)
    expect(st.parkIdle()).toBe(0) // just written: idle again from now
    now += 1_000
    await parked(st, 1)
    expect(st.replicaCopy("s1")?.record).toEqual(s.record)
  })

  test("a peer asking for a parked document finds it open", async () => {
    now = T0
    const st = await open()
    const s = played()
    const url = st.create(s.record, "n1")
    st.share({ announce: () => false, access: (peer) => peer === "replica" })
    expect(await st.repo.shareConfig.access("stranger" as never, docId(url))).toBe(false)
    expect(st.documents().open).toBe(0)
    expect(await st.repo.shareConfig.access("replica" as never, docId(url))).toBe(true)
    expect(st.documents().open).toBe(1)
    expect(readSessionDoc(st.repo.handles[docId(url)]?.doc())?.record).toEqual(s.record)
  })

  test("a closed handle is freed, even when a burst of writes held up the event loop past automerge-repo's sync timers", async () => {
    now = T0
    const st = await open()
    const before = liveHandles() // other tests' repos in this process may hold some
    const sessions = Array.from({ length: 200 }, (_, i) => played(`b${i}`))
    for (const s of sessions) st.create(s.record, "n1")
    for (let round = 0; round < 3; round++) {
      // One synchronous burst: every document opens and changes (~2 ms each), its sync timer due 100 ms later.
      for (const s of sessions) {
        act(s)
        st.checkpoint(s.record)
      }
      st.writeCheckpoints()
      now += 1_000
      await parked(st, sessions.length)
    }
    // None of the 600 closed is held (a synchronizer left waiting holds its handle a minute).
    expect(liveHandles() - before).toBeLessThan(10)
  })

  test("with a data dir a parked document is on disk, whole (closing a handle never saves an empty document over it)", async () => {
    now = T0
    const dir = mkdtempSync(join(tmpdir(), "baton-parking-"))
    dirs.push(dir)
    const first = await open({ dataDir: dir })
    const s = played()
    first.create(s.record, "n1")
    const idle = played("s2")
    first.create(idle.record, "n1") // never opened: parked from the start
    for (let i = 0; i < 3; i++) {
      act(s)
      checkpoint(first, s)
    }
    await first.flush()
    now += 1_000
    await parked(first, 2)
    await Bun.sleep(300) // past automerge-repo's 100 ms save throttle: an empty save would have landed
    await first.close()
    stores.splice(stores.indexOf(first), 1)

    const second = await open({ dataDir: dir })
    expect((await second.load("s1")).record).toEqual(s.record)
    expect((await second.load("s2")).record).toEqual(idle.record)
    // Loaded from disk without a handle: parked until there is something to sync.
    expect(second.documents()).toEqual({ open: 0, parked: 2 })
  })

  for (const disk of [false, true])
    test(`a document opened and parked again and again${disk ? ", with a data dir," : ""} stays whole: the wasm documents freed along the way are never read again`, async () => {
      now = T0
      const dir = mkdtempSync(join(tmpdir(), "baton-parking-"))
      dirs.push(dir)
      const errors: unknown[] = []
      const first = await open({ ...(disk ? { dataDir: dir } : {}), onError: (_id, error) => errors.push(error) })
      const s = played()
      first.create(s.record, "n1")
      for (let cycle = 0; cycle < 12; cycle++) {
        act(s)
        checkpoint(first, s) // opens it
        expect(first.documents()).toEqual({ open: 1, parked: 0 })
        now += 1_000
        await parked(first, 1)
        // The freed document of the handle just closed would throw here, in the next cycle's open or on disk.
        expect(first.replicaCopy("s1")?.record).toEqual(s.record)
      }
      await Bun.sleep(300) // past automerge-repo's 100 ms save throttle: a save of a freed document would have thrown
      await first.flush()
      await first.close()
      stores.splice(stores.indexOf(first), 1)
      expect(errors).toEqual([])
      if (!disk) return
      const second = await open({ dataDir: dir })
      expect((await second.load("s1")).record).toEqual(s.record)
    })
})
