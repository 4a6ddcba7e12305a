import "./no-native-cbor.ts"
import { readdir } from "node:fs/promises"
import { join } from "node:path"
import { free, init, loadIncremental } from "@automerge/automerge"
import type { AutomergeUrl } from "@automerge/automerge-repo"
import type { CheckedStorage, DamagedFile } from "./checked-storage.ts"
import type { RegistryEntry } from "./registry-layout.ts"
import { newerCopy } from "./newest.ts"
import { readStored } from "./session-doc.ts"

/** A document of the data dir that holds no readable session. */
export interface UnreadableDocument {
  document: string
  why: string
}

/**
 * A registry with a damaged chunk, or none while session documents are
 * stored, is rebuilt from the session documents: the registry is only an
 * index of them. All of a damaged registry's chunks are set aside, so the
 * rebuilt one is not merged with what is left of the old one (stale
 * entries naming documents that a compaction replaced). `takeDamaged`: the
 * registry's chunks the storage has set aside since it was last asked.
 */
export async function registryRebuild(
  storage: CheckedStorage,
  registry: string,
  takeDamaged: () => DamagedFile[],
): Promise<{ why: "damaged" | "missing"; setAside: DamagedFile[]; entries: Map<string, RegistryEntry>; unreadable: UnreadableDocument[] } | undefined> {
  const intact = (await storage.loadRange([registry])).some((c) => c.key[1] !== "sync-state")
  const setAside = takeDamaged()
  const documents = (await storedDocuments(storage)).filter((d) => d !== registry)
  if (setAside.length === 0 && (intact || documents.length === 0)) return undefined
  if (setAside.length > 0) {
    await storage.setAsideAll(registry, "set aside with the damaged registry")
    setAside.push(...takeDamaged())
  }
  const { entries, unreadable } = await entriesFromDocuments(storage, documents)
  return { why: setAside.length > 0 ? "damaged" : "missing", setAside, entries, unreadable }
}

/** The ids of every document with chunks in the data dir (one folder per document under two-character folders). */
export async function storedDocuments(storage: CheckedStorage): Promise<string[]> {
  const ids: string[] = []
  for (const head of await readdir(storage.dir, { withFileTypes: true }).catch(() => [])) {
    if (!head.isDirectory()) continue
    for (const rest of await readdir(join(storage.dir, head.name), { withFileTypes: true })) if (rest.isDirectory()) ids.push(head.name + rest.name)
  }
  return ids
}

/**
 * The registry entries the session documents of the data dir make. A
 * document carries its session's id, game and status (in its record) and
 * its epoch; not its owner, which is left empty: a lone node adopts every
 * session it resumes, and a cluster treats an entry whose owner is not a
 * member as an orphan (a peer that runs it says so before anyone takes it).
 * Where a session has two documents (a compaction whose old document was not
 * deleted yet), the newest one counts: highest epoch, then revision, then
 * checkpoint time.
 */
export async function entriesFromDocuments(
  storage: CheckedStorage,
  documents: string[],
): Promise<{ entries: Map<string, RegistryEntry>; unreadable: UnreadableDocument[] }> {
  const best = new Map<string, { entry: RegistryEntry; rev: number; at: number }>()
  const unreadable: UnreadableDocument[] = []
  for (const document of documents) {
    // Through the checked storage: damaged chunks are set aside (and reported) here already.
    const chunks = (await storage.loadRange([document])).filter((c) => c.data && (c.key[1] === "snapshot" || c.key[1] === "incremental"))
    if (chunks.length === 0) {
      unreadable.push({ document, why: "no readable chunk" })
      continue
    }
    let read: ReturnType<typeof readStored>
    try {
      let doc = init<unknown>()
      for (const c of chunks) doc = loadIncremental(doc, c.data as Uint8Array)
      read = readStored(doc)
      free(doc)
    } catch (error) {
      unreadable.push({ document, why: error instanceof Error ? error.message : String(error) })
      continue
    }
    const record = read?.stored
    if (!read || !record || typeof record.id !== "string" || typeof record.game !== "string" || (record.status !== "open" && record.status !== "ended")) {
      unreadable.push({ document, why: "holds no session (its first checkpoint is missing)" })
      continue
    }
    const found = {
      entry: { game: record.game, doc: `automerge:${document}` as AutomergeUrl, owner: "", epoch: read.epoch, status: record.status, updatedAt: 0 },
      rev: record.rev,
      at: read.at,
    }
    const cur = best.get(record.id)
    if (!cur || newer(found, cur)) best.set(record.id, found)
  }
  return { entries: new Map([...best].map(([id, f]) => [id, f.entry])), unreadable }
}

/** The rule of newest.ts; two documents of one epoch and revision: the later written. */
function newer(a: { entry: RegistryEntry; rev: number; at: number }, b: { entry: RegistryEntry; rev: number; at: number }): boolean {
  const x = { epoch: a.entry.epoch, rev: a.rev }
  const y = { epoch: b.entry.epoch, rev: b.rev }
  if (newerCopy(x, y)) return true
  return !newerCopy(y, x) && a.at > b.at
}
