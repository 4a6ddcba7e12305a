import "./no-native-cbor.ts"
import { createHash } from "node:crypto"
import { init, save } from "@automerge/automerge"
import { type AutomergeUrl, type DocHandle, type Repo, type StorageAdapterInterface, parseAutomergeUrl, stringifyAutomergeUrl } from "@automerge/automerge-repo"
import { toAutomerge } from "./automerge-json.ts"

export interface RegistryEntry {
  game: string
  doc: AutomergeUrl
  owner: string
  epoch: number
  status: "open" | "ended"
  updatedAt: number
}

/**
 * Which session lives in which document, and who owns it: one key per
 * session at the root (the root map exists on every node from the start, so
 * entries written by different nodes never conflict over a parent).
 */
export type RegistryDoc = Record<string, RegistryEntry>

type PendingEntry = "remove" | { set?: RegistryEntry; patch?: Partial<RegistryEntry> }

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

  private constructor(
    handle: DocHandle<RegistryDoc>,
    readonly clock: () => number,
  ) {
    this.#handle = handle
    this.#mirrorAll()
    handle.on("change", ({ patches }) => {
      const ids = this.#mirrorChanged(patches)
      for (const fn of this.#listeners) fn(ids)
    })
  }

  /**
   * The registry has the same document id on every node of a cluster (from
   * the cluster name) and starts empty, so the copies merge. From disk when
   * the storage has it.
   */
  static async open(repo: Repo, clusterName: string, storage: StorageAdapterInterface | undefined, clock: () => number): Promise<Registry> {
    const raw = createHash("sha256").update(`baton-registry/v1/${clusterName}`).digest().subarray(0, 16)
    const docId = parseAutomergeUrl(stringifyAutomergeUrl({ documentId: new Uint8Array(raw) as never })).documentId
    if (storage && (await storage.loadRange([docId])).length > 0) return new Registry(await repo.find<RegistryDoc>(docId), clock)
    const handle = repo.import<RegistryDoc>(save(init()), { docId })
    // import() leaves a handle "loading" until told otherwise (create() does this itself).
    ;(handle as unknown as { doneLoading(): void }).doneLoading()
    return new Registry(handle, clock)
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

  /** Writes the pending entries now. */
  flush(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#pending.size === 0) return
    const pending = [...this.#pending]
    this.#pending.clear()
    this.#handle.change((d) => {
      for (const [id, op] of pending) {
        if (op === "remove") {
          delete d[id]
          continue
        }
        if (op.set) d[id] = toAutomerge({ ...op.set, ...op.patch }) as RegistryEntry
        else if (op.patch && d[id]) for (const [k, v] of Object.entries(op.patch)) (d[id] as unknown as Record<string, unknown>)[k] = toAutomerge(v)
      }
    })
  }

  #queue(id: string, op: PendingEntry): void {
    const cur = this.#pending.get(id)
    if (op === "remove" || op.set || !cur || cur === "remove") this.#pending.set(id, op === "remove" || op.set || !cur ? op : cur)
    else this.#pending.set(id, { set: cur.set, patch: { ...cur.patch, ...op.patch } })
    this.#timer ??= setTimeout(() => this.flush(), 10)
  }

  #mirrorAll(): void {
    this.#mirror = new Map()
    for (const [id, raw] of Object.entries(this.#handle.doc() ?? {})) {
      const e = readEntry(raw)
      if (e) this.#mirror.set(id, e)
    }
  }

  /** Re-reads the entries a change touched; returns their ids. */
  #mirrorChanged(patches: readonly { path: readonly unknown[] }[]): Set<string> {
    const ids = new Set<string>()
    for (const p of patches) {
      if (p.path.length === 0) {
        this.#mirrorAll()
        return new Set(this.#mirror.keys())
      }
      ids.add(String(p.path[0]))
    }
    const doc = this.#handle.doc() ?? {}
    for (const id of ids) {
      const e = readEntry(doc[id])
      if (e) this.#mirror.set(id, e)
      else this.#mirror.delete(id)
    }
    return ids
  }
}

/**
 * A registry entry as plain values, or undefined when the value at that key is
 * not one (a removed entry, or a key a newer or broken writer put there): a
 * node must not take such a value for a session and try to follow or adopt it.
 * Field by field, since that beats a JSON round trip.
 */
function readEntry(raw: unknown): RegistryEntry | undefined {
  if (raw === null || typeof raw !== "object") return undefined
  const e = raw as Record<string, unknown>
  const doc = String(e.doc ?? "")
  const epoch = Number(e.epoch)
  const status = String(e.status ?? "")
  if (!doc.startsWith("automerge:") || e.game === undefined || e.owner === undefined || !Number.isFinite(epoch)) return undefined
  if (status !== "open" && status !== "ended") return undefined
  return { game: String(e.game), doc: doc as AutomergeUrl, owner: String(e.owner), epoch, status, updatedAt: Number(e.updatedAt ?? 0) }
}
