import "./no-native-cbor.ts"
import { createHash } from "node:crypto"
import { ImmutableString, loadIncremental } from "@automerge/automerge"
import { type DocHandle, type DocumentId, type Repo, type StorageAdapterInterface, parseAutomergeUrl, stringifyAutomergeUrl } from "@automerge/automerge-repo"
import { toAutomerge } from "./automerge-json.ts"
import { BUCKETS, bucketOf, hasBuckets, idsIn, isBucket, type RegistryDoc, type RegistryEntry, readEntryOf } from "./registry-layout.ts"

export type { RegistryDoc, RegistryEntry } from "./registry-layout.ts"

type PendingEntry = "remove" | { set?: RegistryEntry; patch?: Partial<RegistryEntry> }

export interface RegistryTiming {
  /** How long after the last older node was seen this node starts moving its flat copies into buckets. */
  migrateAfterMs?: number
  /** Pause between two batches of that move. */
  migrateEveryMs?: number
}

/** Entries per migration change: each change still copies the root while flat copies remain there. */
const MIGRATE_BATCH = 200

/**
 * The cluster's registry document and a plain mirror of it. Reads come from
 * the mirror, which follows the document's change patches (only the entries
 * a change touched are read again): the node reads entries all the time
 * (placement, fencing, replicas to follow), and converting every automerge
 * entry per read was a large part of a drain's cost. Writes are batched into
 * one automerge change every 10 ms (a drain adopting hundreds of sessions
 * would otherwise be hundreds of changes in a history every node shares);
 * reads see pending writes.
 */
export class Registry {
  #handle: DocHandle<RegistryDoc>
  #mirror = new Map<string, RegistryEntry>()
  #pending = new Map<string, PendingEntry>()
  #timer: ReturnType<typeof setTimeout> | undefined
  #listeners: ((ids: Set<string>) => void)[] = []
  #flatReaders = false
  #flatReadersGoneAt = performance.now()
  #backfill = false
  #migrateTimer: ReturnType<typeof setTimeout> | undefined
  #timing: Required<RegistryTiming>

  private constructor(
    handle: DocHandle<RegistryDoc>,
    /** This node: its own entries are the ones it copies for older nodes, and moves into buckets after. */
    readonly self: string,
    readonly clock: () => number,
    timing: RegistryTiming,
  ) {
    this.#handle = handle
    this.#timing = { migrateAfterMs: timing.migrateAfterMs ?? 30_000, migrateEveryMs: timing.migrateEveryMs ?? 1_000 }
    this.#mirrorAll()
    handle.on("change", ({ patches }) => {
      const ids = this.#mirrorChanged(patches)
      for (const fn of this.#listeners) fn(ids)
    })
    // Flat entries from before the buckets (on disk, or in the cluster's copy) move once no older node is around.
    this.#migrateLater(this.#timing.migrateAfterMs)
  }

  /**
   * The registry has the same document id on every node of a cluster (from
   * the cluster name) and starts as the same buckets, so the copies merge.
   * From disk when the storage has it.
   */
  static async open(
    repo: Repo,
    clusterName: string,
    self: string,
    storage: StorageAdapterInterface | undefined,
    clock: () => number,
    timing: RegistryTiming = {},
  ): Promise<Registry> {
    const docId = registryDocId(clusterName)
    // Sync states alone are no document (a damaged registry's chunks were set aside; its sync states stay).
    if (storage && (await storage.loadRange([docId])).some((c) => c.key[1] !== "sync-state")) {
      const handle = await repo.find<RegistryDoc>(docId)
      // Saved before the buckets: add them (the very change every node adds).
      if (!hasBuckets(handle.doc())) (handle as unknown as { update(fn: (d: unknown) => unknown): void }).update((d) => loadIncremental(d as RegistryDoc, BUCKETS))
      return new Registry(handle, self, clock, timing)
    }
    const handle = repo.import<RegistryDoc>(BUCKETS, { docId })
    // import() leaves a handle "loading" until told otherwise (create() does this itself).
    ;(handle as unknown as { doneLoading(): void }).doneLoading()
    return new Registry(handle, self, clock, timing)
  }

  /**
   * Whether a member that reads only flat entries (a node from before the
   * buckets) is in the cluster. While one is, every write keeps a flat copy
   * too, and when one appears this node gives its own entries one. When none
   * has been seen for a while, this node moves its entries' flat copies into
   * the buckets (a root full of flat copies costs what the buckets save).
   */
  setFlatReaders(present: boolean): void {
    if (present === this.#flatReaders) return
    this.#flatReaders = present
    this.#backfill = present
    if (present) this.#timer ??= setTimeout(() => this.flush(), 10)
    else {
      this.#flatReadersGoneAt = performance.now()
      this.#migrateLater(this.#timing.migrateAfterMs)
    }
  }

  get handle(): DocHandle<RegistryDoc> {
    return this.#handle
  }

  /** Every entry as plain values (strings, not automerge's ImmutableStrings). */
  entries(): [string, RegistryEntry][] {
    const out = new Map(this.#mirror)
    for (const id of this.#pending.keys()) {
      const e = this.entry(id)
      if (e) out.set(id, e)
      else out.delete(id)
    }
    return [...out]
  }

  entry(id: string): RegistryEntry | undefined {
    const base = this.#mirror.get(id)
    const p = this.#pending.get(id)
    if (!p) return base
    if (p === "remove") return undefined
    const merged = { ...(p.set ?? base), ...p.patch }
    return merged.doc ? (merged as RegistryEntry) : undefined
  }

  /** Calls `fn` with the ids of the sessions whose entries changed (here or on a peer). */
  onChanged(fn: (ids: Set<string>) => void): void {
    this.#listeners.push(fn)
  }

  set(id: string, entry: RegistryEntry): void {
    this.#queue(id, { set: entry })
  }

  patch(id: string, patch: Partial<RegistryEntry>): void {
    this.#queue(id, { patch: { ...patch, updatedAt: this.clock() } })
  }

  remove(id: string): void {
    this.#queue(id, "remove")
  }

  /**
   * Entries rebuilt from the session documents after this node's copy of the
   * registry was lost. They are written flat (at the root) with `updatedAt`
   * 0: where a peer's copy still holds an entry (in its bucket) of the same
   * or a higher epoch, that one is read (readEntryOf), whereas two nodes
   * writing one bucketed entry concurrently would leave either one, whole.
   */
  restore(entries: Map<string, RegistryEntry>): void {
    if (entries.size === 0) return
    this.flush()
    this.#handle.change((d) => {
      for (const [id, e] of entries) put(d, id, { ...e, updatedAt: 0 })
    })
  }

  /** Writes the pending entries now. */
  flush(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#pending.size === 0 && !this.#backfill) return
    const pending = [...this.#pending]
    this.#pending.clear()
    const flatReaders = this.#flatReaders
    const backfill = this.#backfill && flatReaders
    this.#backfill = false
    // The mirror does not show this flush's writes yet: the backfill must not undo them.
    const written = new Set(pending.map(([id]) => id))
    this.#handle.change((d) => {
      for (const [id, op] of pending) {
        if (op === "remove") removeEntry(d, id)
        else {
          // A patch writes the whole entry as this node sees it: the bucketed and the flat copy may differ.
          const base = op.set ?? this.#mirror.get(id)
          if (base) writeEntry(d, id, { ...base, ...op.patch }, flatReaders)
        }
      }
      if (backfill) for (const [id, e] of this.#mirror) if (e.owner === this.self && d[id] === undefined && !written.has(id)) writeEntry(d, id, e, true)
    })
  }

  #migrateLater(ms: number): void {
    clearTimeout(this.#migrateTimer)
    this.#migrateTimer = setTimeout(() => this.#migrate(), ms)
    this.#migrateTimer.unref?.()
  }

  /** Moves a batch of this node's flat copies into the buckets, then the next batch a little later. */
  #migrate(): void {
    this.#migrateTimer = undefined
    if (this.#flatReaders) return
    const wait = this.#flatReadersGoneAt + this.#timing.migrateAfterMs - performance.now()
    if (wait > 0) return this.#migrateLater(wait)
    this.flush() // pending writes first: the mirror then holds the newest entries
    const batch: [string, RegistryEntry][] = []
    for (const key of Object.keys(this.#handle.doc() ?? {})) {
      const e = isBucket(key) ? undefined : this.#mirror.get(key)
      if (e?.owner === this.self) batch.push([key, e])
      if (batch.length >= MIGRATE_BATCH) break
    }
    if (batch.length === 0) return
    this.#handle.change((d) => {
      for (const [id, e] of batch) moveIntoBucket(d, id, e)
    })
    this.#migrateLater(this.#timing.migrateEveryMs)
  }

  #queue(id: string, op: PendingEntry): void {
    const cur = this.#pending.get(id)
    if (op === "remove" || op.set || !cur || cur === "remove") this.#pending.set(id, op === "remove" || op.set || !cur ? op : cur)
    else this.#pending.set(id, { set: cur.set, patch: { ...cur.patch, ...op.patch } })
    this.#timer ??= setTimeout(() => this.flush(), 10)
  }

  #mirrorAll(): void {
    this.#mirror = new Map()
    const doc = this.#handle.doc() ?? {}
    for (const id of idsIn(doc)) {
      const e = readEntryOf(doc, id)
      if (e) this.#mirror.set(id, e)
    }
  }

  /** Re-reads the entries a change touched; returns their ids. */
  #mirrorChanged(patches: readonly { path: readonly unknown[] }[]): Set<string> {
    const ids = new Set<string>()
    for (const p of patches) {
      const key = p.path.length > 0 ? String(p.path[0]) : undefined
      // The root or a whole bucket changed (the buckets arriving from a peer): read everything again.
      if (key === undefined || (isBucket(key) && p.path.length === 1)) {
        // Listeners hear of entries gone as well as those there now.
        const before = [...this.#mirror.keys()]
        this.#mirrorAll()
        return new Set([...before, ...this.#mirror.keys()])
      }
      ids.add(isBucket(key) ? String(p.path[1]) : key)
    }
    const doc = this.#handle.doc() ?? {}
    for (const id of ids) {
      const e = readEntryOf(doc, id)
      if (e) this.#mirror.set(id, e)
      else this.#mirror.delete(id)
    }
    return ids
  }
}

/** The registry's document id: the same on every node of a cluster, from the cluster's name. */
export function registryDocId(clusterName: string): DocumentId {
  const raw = createHash("sha256").update(`baton-registry/v1/${clusterName}`).digest().subarray(0, 16)
  return parseAutomergeUrl(stringifyAutomergeUrl({ documentId: new Uint8Array(raw) as never })).documentId
}

/** Writes an entry into its bucket, and as a flat copy too when it has one or older nodes need one. */
function writeEntry(d: RegistryDoc, id: string, entry: RegistryEntry, flatReaders: boolean): void {
  const bucket = bucketIn(d, id)
  const flat = d[id] !== undefined || flatReaders || !bucket
  if (bucket) put(bucket, id, { ...entry, mirrored: flat })
  if (flat) put(d, id, { ...entry })
}

/** The entry as this node reads it, in its bucket only (no longer `mirrored`, so the flat copy's absence means nothing). */
function moveIntoBucket(d: RegistryDoc, id: string, entry: RegistryEntry): void {
  const bucket = bucketIn(d, id)
  if (!bucket) return
  put(bucket, id, { ...entry, mirrored: false })
  delete d[id]
}

function removeEntry(d: RegistryDoc, id: string): void {
  const bucket = bucketIn(d, id)
  if (bucket?.[id] !== undefined) delete bucket[id]
  if (d[id] !== undefined) delete d[id]
}

/** The entry's bucket; missing only if a broken writer removed it (then the entry is written flat, still read). */
function bucketIn(d: RegistryDoc, id: string): Record<string, unknown> | undefined {
  const bucket = d[bucketOf(id)]
  return bucket !== null && typeof bucket === "object" && !Array.isArray(bucket) && !(bucket instanceof ImmutableString) ? (bucket as Record<string, unknown>) : undefined
}

/** Sets only the fields that differ (each is an automerge operation every node applies). */
function put(parent: Record<string, unknown>, key: string, value: Record<string, unknown>): void {
  const cur = parent[key]
  if (cur === null || typeof cur !== "object" || Array.isArray(cur) || cur instanceof ImmutableString) {
    parent[key] = toAutomerge(value)
    return
  }
  const fields = cur as Record<string, unknown>
  for (const [k, v] of Object.entries(value)) if (v !== undefined && (fields[k] === undefined || String(fields[k]) !== String(v))) fields[k] = toAutomerge(v)
}
