import { afterEach, describe, expect, test } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as A from "@automerge/automerge"
import { type AutomergeUrl, Repo } from "@automerge/automerge-repo"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import type { RegistryEntry } from "../../framework/store/index.ts"
import { toAutomerge } from "../../framework/store/automerge-json.ts"
import { Registry, type RegistryTiming, registryDocId } from "../../framework/store/registry.ts"
import { BUCKETS, bucketOf } from "../../framework/store/registry-layout.ts"
import { waitUntil } from "../support/wait.ts"

const T0 = 1_700_000_000_000
const URL_A = "automerge:2Vx5qTnsfY8n6RmyPMN7zW3ek4jU" as AutomergeUrl
const repos: Repo[] = []
const dirs: string[] = []
afterEach(async () => {
  for (const r of repos.splice(0)) await r.shutdown()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

/** A node's registry: its own repo, on disk when `dataDir` is given. */
async function open(self: string, dataDir?: string, timing?: RegistryTiming): Promise<Registry> {
  const storage = dataDir ? new NodeFSStorageAdapter(join(dataDir, "automerge")) : undefined
  const repo = new Repo({ storage, network: [], peerId: self as never })
  repos.push(repo)
  return Registry.open(repo, "baton", self, storage, () => T0, timing)
}

async function reopen(reg: Registry, self: string, dataDir: string): Promise<Registry> {
  reg.flush()
  const repo = repos.pop() as Repo
  await repo.flush()
  await repo.shutdown()
  return open(self, dataDir)
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "baton-registry-"))
  dirs.push(d)
  return d
}

const entry = (owner: string, epoch = 1, status: RegistryEntry["status"] = "open"): RegistryEntry => ({ game: "counter", doc: URL_A, owner, epoch, status, updatedAt: T0 })

/** The registry document as a node of the version before the buckets writes it: one key per session at the root. */
function writeFlat(reg: Registry, fn: (root: Record<string, unknown>) => void): void {
  reg.handle.change((d) => fn(d as unknown as Record<string, unknown>))
}

/** Ids whose bucket is `bucket`, as many as asked for. */
function idsInBucket(bucket: string, count: number): string[] {
  const out: string[] = []
  for (let i = 0; out.length < count; i++) if (bucketOf(`s${i}`) === bucket) out.push(`s${i}`)
  return out
}

const raw = (reg: Registry) => reg.handle.doc() as unknown as Record<string, Record<string, unknown>>

describe("the registry's layout", () => {
  test("entries go into 256 buckets, not one key per session at the root", async () => {
    const reg = await open("n1")
    for (let i = 0; i < 50; i++) reg.patch(`x${i}`, { owner: "n1" }) // a patch of an unknown entry writes nothing
    const ids = Array.from({ length: 50 }, (_, i) => `s${i}`)
    for (const id of ids) reg.set(id, entry("n1"))
    reg.flush()
    const doc = raw(reg)
    expect(Object.keys(doc)).toHaveLength(256)
    for (const id of ids) expect(String((doc[bucketOf(id)]?.[id] as Record<string, unknown> | undefined)?.owner)).toBe("n1")
    expect(reg.entries().map(([id]) => id).sort()).toEqual([...ids].sort())
  })

  test("two nodes that never met create the same buckets, so entries both write into one bucket survive the merge", async () => {
    // Pinned: a different change (actor, time, message, bucket count) would be a second set of
    // bucket maps next to the first in a cluster's registry, hiding one set's entries.
    expect(A.getHeads(A.load(BUCKETS))).toEqual(["6c7507509522c94c8a0b7b47c27c058002387eaf138584f9d7f8e2959b77ebb1"])
    const a = await open("na")
    const b = await open("nb")
    expect(A.getHeads(a.handle.doc() as A.Doc<unknown>)).toEqual(A.getHeads(b.handle.doc() as A.Doc<unknown>))
    const [idA, idB] = idsInBucket("@2a", 2) as [string, string]
    a.set(idA, entry("na"))
    b.set(idB, entry("nb"))
    a.flush()
    b.flush()
    const merged = A.merge(A.clone(a.handle.doc() as A.Doc<unknown>), b.handle.doc() as A.Doc<unknown>) as unknown as Record<string, Record<string, { owner: unknown }>>
    expect(Object.keys(merged["@2a"] ?? {}).sort()).toEqual([idA, idB].sort())
  })

  test("values that are not entries (a newer or broken writer's) are not taken for sessions, on change and on reopening", async () => {
    const dataDir = tempDir()
    const reg = await open("n1", dataDir)
    reg.set("good", entry("n1"))
    reg.flush()
    writeFlat(reg, (root) => {
      root["@registry-v3"] = toAutomerge({ good: entry("n2", 9) })
      root.junk = toAutomerge("not an entry")
      root.half = toAutomerge({ game: "counter", owner: "n2", epoch: 1, status: "open" })
      root.badStatus = toAutomerge({ ...entry("n2"), status: "lost" })
      root.badEpoch = toAutomerge({ ...entry("n2"), epoch: "x" })
    })
    expect(reg.entries().map(([id]) => id)).toEqual(["good"])
    expect(reg.entry("good")).toMatchObject({ owner: "n1", epoch: 1 })
    const again = await reopen(reg, "n1", dataDir)
    expect(again.entries().map(([id]) => id)).toEqual(["good"])
  })
})

describe("next to nodes from before the buckets (a rolling deploy)", () => {
  test("their flat entries are read, and writing one keeps its flat copy up to date", async () => {
    const reg = await open("n1")
    writeFlat(reg, (root) => {
      root.old = toAutomerge(entry("n0"))
    })
    expect(reg.entry("old")).toMatchObject({ owner: "n0", epoch: 1 })
    reg.patch("old", { owner: "n1" })
    reg.flush()
    const doc = raw(reg)
    expect(String(doc.old?.owner)).toBe("n1")
    expect(doc[bucketOf("old")]?.old).toMatchObject({ epoch: 1, mirrored: true })
    expect(reg.entry("old")).toMatchObject({ owner: "n1" })
  })

  test("an older node's later write wins over the bucketed copy, and its removal removes the session", async () => {
    const reg = await open("n1")
    reg.set("s", entry("n1"))
    reg.flush()
    reg.setFlatReaders(true)
    reg.flush()
    expect(String(raw(reg).s?.owner)).toBe("n1") // the backfill gave the older nodes a copy
    writeFlat(reg, (root) => {
      const e = root.s as Record<string, unknown>
      e.status = "ended"
      e.updatedAt = T0 + 1
    })
    expect(reg.entry("s")?.status).toBe("ended")
    writeFlat(reg, (root) => {
      delete root.s
    })
    expect(reg.entry("s")).toBeUndefined()
    expect(reg.entries()).toEqual([])
  })

  test("while one is in the cluster every write keeps a flat copy; only this node's own entries are copied when one appears", async () => {
    const reg = await open("n1")
    reg.set("mine", entry("n1"))
    reg.set("theirs", entry("n2"))
    reg.flush()
    expect(raw(reg).mine).toBeUndefined()
    reg.setFlatReaders(true)
    reg.flush()
    expect(String(raw(reg).mine?.owner)).toBe("n1")
    expect(raw(reg).theirs).toBeUndefined()
    reg.set("new", entry("n2", 3))
    reg.flush()
    expect(Number(raw(reg).new?.epoch)).toBe(3)
    // Gone again: new entries are bucketed only; the flat copies that exist stay written.
    reg.setFlatReaders(false)
    reg.set("later", entry("n1"))
    reg.patch("mine", { owner: "n3" })
    reg.flush()
    expect(raw(reg).later).toBeUndefined()
    expect(String(raw(reg).mine?.owner)).toBe("n3")
    expect(reg.entry("mine")?.owner).toBe("n3")
  })

  test("a registry saved to disk before the buckets is read, and gets them", async () => {
    const dataDir = tempDir()
    const storage = new NodeFSStorageAdapter(join(dataDir, "automerge"))
    const repo = new Repo({ storage, network: [] })
    const docId = registryDocId("baton")
    const old = repo.import(A.save(A.from({ a: toAutomerge(entry("n0")), b: toAutomerge(entry("n0", 2, "ended")) } as Record<string, unknown>)), { docId })
    ;(old as unknown as { doneLoading(): void }).doneLoading()
    await repo.flush()
    await repo.shutdown()
    const reg = await open("n1", dataDir)
    expect(reg.entries().map(([id, e]) => [id, e.epoch, e.status]).sort()).toEqual([
      ["a", 1, "open"],
      ["b", 2, "ended"],
    ])
    expect(Object.keys(raw(reg)).filter((k) => k.startsWith("@"))).toHaveLength(256)
  })

  test("the copies given to older nodes when one appears never undo this node's own writes of that moment", async () => {
    const reg = await open("n1")
    reg.set("gone", entry("n1"))
    reg.set("moved", entry("n1"))
    reg.flush()
    reg.setFlatReaders(true)
    reg.remove("gone")
    reg.patch("moved", { owner: "n2", epoch: 2 })
    reg.flush()
    expect(reg.entry("gone")).toBeUndefined()
    expect(raw(reg).gone).toBeUndefined()
    expect(reg.entry("moved")).toMatchObject({ owner: "n2", epoch: 2 })
    expect(Number(raw(reg).moved?.epoch)).toBe(2)
  })

  test("an older node that comes and goes before the next write leaves no stale copy behind", async () => {
    const reg = await open("n1")
    reg.set("s", entry("n1"))
    reg.flush()
    reg.setFlatReaders(true)
    reg.setFlatReaders(false)
    reg.patch("s", { epoch: 5 })
    reg.flush()
    expect(raw(reg).s).toBeUndefined()
    expect(reg.entry("s")?.epoch).toBe(5)
  })

  test("once no older node is around, each node moves its own flat copies into the buckets, in batches", async () => {
    const reg = await open("n1", undefined, { migrateAfterMs: 50, migrateEveryMs: 5 })
    reg.setFlatReaders(true)
    const mine = Array.from({ length: 450 }, (_, i) => `m${i}`)
    for (const id of mine) reg.set(id, entry("n1"))
    reg.set("theirs", entry("n2"))
    reg.flush()
    writeFlat(reg, (root) => {
      root.older = toAutomerge({ ...entry("n1", 4), updatedAt: T0 + 5 }) // an older node's write, newer than ours
    })
    expect(Object.keys(raw(reg))).toHaveLength(256 + mine.length + 2)
    reg.setFlatReaders(false)
    // Three batches of 200 at most; only "theirs" (another node's entry) stays flat.
    await waitUntil(() => Object.keys(raw(reg)).length === 257, "this node's flat copies moved into buckets")
    expect(raw(reg).theirs).toBeDefined()
    expect(reg.entries()).toHaveLength(mine.length + 2)
    expect(reg.entry("older")).toMatchObject({ epoch: 4, owner: "n1" })
    expect(raw(reg)[bucketOf("older")]?.older).toMatchObject({ epoch: 4, mirrored: false })
  })
})
