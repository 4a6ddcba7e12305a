import { afterEach, describe, expect, test } from "bun:test"
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as A from "@automerge/automerge"
import counter from "../../app/games/counter.ts"
import { Session, type SessionRecord } from "../../framework/game/index.ts"
import { damageOf } from "../../framework/store/checked-storage.ts"
import { type DataDirEvent, Store } from "../../framework/store/index.ts"

const T0 = 1_700_000_000_000
const dirs: string[] = []
const stores: Store[] = []
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

// Incompressible, and big enough that automerge-repo keeps the snapshot and writes later checkpoints as incremental chunks.
const padding = Buffer.from(crypto.getRandomValues(new Uint8Array(3072))).toString("base64")
const base = Session.create(counter, { id: "s1", now: T0, options: undefined, seed: "seed" }).record
const record = (rev: number): SessionRecord => ({ ...base, state: { total: rev, padding }, rev })

async function open(dataDir: string, events: DataDirEvent[] = []): Promise<Store> {
  const store = await Store.open({ dataDir, peerId: "n1", checkpointMs: 0, onDamage: (e) => events.push(e) })
  stores.push(store)
  return store
}

describe("a session document with one damaged chunk", () => {
  test("loads from the chunks that remain; the damaged one is named and set aside", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "baton-chunks-"))
    dirs.push(dataDir)
    const first = await open(dataDir)
    const url = first.create(record(1), "n1")
    await first.flush()
    for (let rev = 2; rev <= 6; rev++) {
      first.checkpoint(record(rev))
      await first.flush()
    }
    await (stores.pop() as Store).close()

    const document = url.replace("automerge:", "")
    const incremental = join(dataDir, "automerge", document.slice(0, 2), document.slice(2), "incremental")
    const chunks = readdirSync(incremental).map((f) => join(incremental, f))
    expect(chunks.length).toBeGreaterThan(1)
    const victim = chunks[0] as string
    truncateSync(victim, Math.floor(statSync(victim).size / 2))

    const events: DataDirEvent[] = []
    const second = await open(dataDir, events)
    const { record: loaded } = await second.load("s1")
    // The changes of the chunk set aside (and any that depend on them) are missing; the rest is there.
    expect(loaded.rev).toBeGreaterThanOrEqual(1)
    expect(loaded.rev).toBeLessThan(6)
    expect((loaded.state as { total: number }).total).toBe(loaded.rev)
    expect(events).toEqual([{ t: "damaged-file", session: "s1", document, file: victim, movedTo: expect.stringContaining(join("damaged")), why: expect.stringContaining("truncated") }])
    const moved = (events[0] as { movedTo: string }).movedTo
    expect(existsSync(moved)).toBe(true)
    expect(existsSync(victim)).toBe(false)
    expect(second.unreadable()).toEqual([])
  })
})

describe("checking a chunk", () => {
  test("every truncation of a snapshot and of a run of changes is found (automerge itself loads some silently), but at a change's end", () => {
    let doc = A.from<Record<string, string>>({ padding })
    const snapshot = A.save(doc)
    // A run of changes as automerge-repo writes it (one save of several changes); where each one ends.
    const parts: Uint8Array[] = []
    for (let i = 0; i < 3; i++) {
      const heads = A.getHeads(doc)
      doc = A.change(doc, (d) => void (d[`k${i}`] = padding.slice(0, 200 + i)))
      parts.push(A.saveSince(doc, heads))
    }
    const changes = new Uint8Array(parts.flatMap((p) => [...p]))
    const ends = parts.map((_, i) => parts.slice(0, i + 1).reduce((n, p) => n + p.length, 0))
    // Without the check: the changes before the cut load, or (in one byte string with the snapshot) none of them.
    const cut = changes.subarray(0, changes.length - 5)
    expect(() => A.loadIncremental(A.load(snapshot), cut)).not.toThrow()
    expect(A.loadIncremental(A.init(), new Uint8Array([...snapshot, ...cut]))).toEqual({ padding })
    for (const [chunk, whole] of [
      [snapshot, []],
      [changes, ends],
    ] as const) {
      expect(damageOf(chunk)).toBeUndefined()
      const missed: number[] = []
      for (let n = 1; n < chunk.length; n++) if (damageOf(chunk.subarray(0, n)) === undefined) missed.push(n)
      // A cut right after a change leaves whole changes: nothing in the file says more were meant to follow.
      expect(missed).toEqual(whole.filter((n) => n < chunk.length))
    }
  })
})
