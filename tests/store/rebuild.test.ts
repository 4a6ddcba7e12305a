import { afterEach, describe, expect, test } from "bun:test"
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as A from "@automerge/automerge"
import { Repo } from "@automerge/automerge-repo"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import counter from "../../app/games/counter.ts"
import { Session, type SessionRecord } from "../../framework/game/index.ts"
import { CheckedStorage, type DamagedFile } from "../../framework/store/checked-storage.ts"
import { entriesFromDocuments, storedDocuments } from "../../framework/store/rebuild.ts"
import { Registry } from "../../framework/store/registry.ts"
import { type RegistryDoc, type RegistryEntry, readEntryOf } from "../../framework/store/registry-layout.ts"
import { newSessionDoc } from "../../framework/store/session-doc.ts"

const T0 = 1_700_000_000_000
const repos: Repo[] = []
const dirs: string[] = []
afterEach(async () => {
  for (const r of repos.splice(0)) await r.shutdown()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "baton-rebuild-"))
  dirs.push(d)
  return d
}

/**
 * Saves only on `flush`: automerge-repo also saves each document 100 ms after
 * it changed, and that write, in flight while the test garbles the files, could
 * land after it (a loaded machine made the broken document readable again).
 */
function repoOn(storage: CheckedStorage | undefined, peer: string): Repo {
  const repo = new Repo({ storage, network: [], peerId: peer as never, saveDebounceRate: 3_600_000 })
  repos.push(repo)
  return repo
}

const record = (id: string, rev: number, status: SessionRecord["status"] = "open"): SessionRecord => ({
  ...Session.create(counter, { id, now: T0, options: undefined, seed: "seed" }).record,
  status,
  rev,
})

describe("rebuilding the registry from the session documents", () => {
  test("each session's newest document counts (a compaction's old one may still be on disk); damaged ones are named", async () => {
    const dir = join(tempDir(), "automerge")
    const damaged: DamagedFile[] = []
    const repo = repoOn(new CheckedStorage(new NodeFSStorageAdapter(dir), dir, join(dir, "..", "damaged"), () => {}), "n1")
    const older = repo.create(newSessionDoc(record("s1", 5), 1, T0).doc)
    const newer = repo.create(newSessionDoc(record("s1", 9), 1, T0 + 1).doc)
    const handedOver = repo.create(newSessionDoc(record("s2", 3, "ended"), 4, T0).doc)
    const empty = repo.create({ other: "no session here" })
    const broken = repo.create(newSessionDoc(record("s3", 1), 1, T0).doc)
    await repo.flush()
    const id = broken.documentId as string
    // Every chunk of its document: automerge-repo may have saved it as a snapshot or as incremental
    // changes (which it writes depends on timing), and a document with one readable chunk left loads.
    const docDir = join(dir, id.slice(0, 2), id.slice(2))
    const files = readdirSync(docDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name))
    expect(files.length).toBeGreaterThan(0)
    for (const f of files) writeFileSync(f, "garbage")
    // A node starting on this data dir (the adapter caches what its own process saved).
    const storage = new CheckedStorage(new NodeFSStorageAdapter(dir), dir, join(dir, "..", "damaged"), (f) => damaged.push(f))

    const documents = await storedDocuments(storage)
    expect(documents.sort()).toEqual([older, newer, handedOver, empty, broken].map((h) => h.documentId as string).sort())
    const { entries, unreadable } = await entriesFromDocuments(storage, documents)
    expect(entries.get("s1")).toEqual({ game: "counter", doc: newer.url, owner: "", epoch: 1, status: "open", updatedAt: 0 })
    expect(entries.get("s2")).toMatchObject({ doc: handedOver.url, epoch: 4, status: "ended" })
    expect(entries.has("s3")).toBe(false)
    expect(unreadable).toContainEqual({ document: empty.documentId, why: expect.stringContaining("holds no session") })
    expect(unreadable).toContainEqual({ document: id, why: "no readable chunk" })
    expect(damaged.map((f) => f.file)).toEqual(files)
    expect(damaged[0]).toMatchObject({ document: id, why: expect.stringContaining("no automerge chunk") })
  })

  test("a rebuilt entry yields to a peer's entry of the same or a higher epoch and wins over an older one", async () => {
    const peer = await Registry.open(repoOn(undefined, "na"), "baton", "na", undefined, () => T0)
    const rebuilt = await Registry.open(repoOn(undefined, "nb"), "baton", "nb", undefined, () => T0)
    const doc = "automerge:2Vx5qTnsfY8n6RmyPMN7zW3ek4jU" as RegistryEntry["doc"]
    const entry = (owner: string, epoch: number): RegistryEntry => ({ game: "counter", doc, owner, epoch, status: "open", updatedAt: T0 })
    peer.set("same", entry("na", 2))
    peer.set("ahead", entry("na", 5))
    peer.set("behind", entry("na", 2))
    peer.flush()
    rebuilt.restore(
      new Map([
        ["same", entry("", 2)],
        ["ahead", entry("", 4)],
        ["behind", entry("", 3)],
        ["only-here", entry("", 1)],
      ]),
    )
    expect(rebuilt.entry("only-here")).toMatchObject({ owner: "", epoch: 1 })
    // Either way round: the merge is the same on every node.
    for (const merged of [
      A.merge(A.clone(peer.handle.doc() as A.Doc<RegistryDoc>), rebuilt.handle.doc() as A.Doc<RegistryDoc>),
      A.merge(A.clone(rebuilt.handle.doc() as A.Doc<RegistryDoc>), peer.handle.doc() as A.Doc<RegistryDoc>),
    ]) {
      expect(readEntryOf(merged, "same")).toMatchObject({ owner: "na", epoch: 2 })
      expect(readEntryOf(merged, "ahead")).toMatchObject({ owner: "na", epoch: 5 })
      expect(readEntryOf(merged, "behind")).toMatchObject({ owner: "", epoch: 3 })
      expect(readEntryOf(merged, "only-here")).toMatchObject({ owner: "", epoch: 1 })
    }
  })
})
