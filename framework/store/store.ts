import "./no-native-cbor.ts"
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { save } from "@automerge/automerge"
import { type AutomergeUrl, type DocHandle, type PeerId, Repo } from "@automerge/automerge-repo"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"
import type { SessionRecord } from "../game/index.ts"
import { diff } from "../protocol/index.ts"
import { applyOpsToDoc, fromAutomerge, toAutomerge } from "./automerge-json.ts"

/** One session's document: the whole record, plus the epoch of the owner that wrote it. */
export interface SessionDoc {
  epoch: number
  record: SessionRecord
}

export interface RegistryEntry {
  game: string
  doc: AutomergeUrl
  owner: string
  epoch: number
  status: "open" | "ended"
  updatedAt: number
}

/** Which session lives in which document, and who owns it. On every node (later), converging. */
export interface RegistryDoc {
  sessions: Record<string, RegistryEntry>
}

export interface StoreOptions {
  /** A directory for automerge-repo-storage-nodefs; in memory when absent. */
  dataDir?: string
  peerId: string
  /** Least time between two checkpoints of one session (coalescing), ms. */
  checkpointMs?: number
  /** Node-wide time budget per checkpoint round, ms: game actions never wait behind automerge. */
  budgetMs?: number
  /** Checkpoints after which a document is rolled over to a fresh one (history stays bounded). */
  compactAfter?: number
  clock?: () => number
  /** A checkpoint that could not be written (the session keeps running; the next round retries). */
  onError?: (session: string, error: unknown) => void
}

interface Written {
  handle: DocHandle<SessionDoc>
  last: SessionRecord
  at: number
  changes: number
}

/**
 * The node's automerge-repo Repo and what Baton keeps in it. Checkpoints are
 * coalesced: `checkpoint()` only remembers the newest record; a round every
 * few ms writes the dirty ones as diffs, within a time budget.
 */
export class Store {
  readonly repo: Repo
  #registry!: DocHandle<RegistryDoc>
  #written = new Map<string, Written>()
  #dirty = new Map<string, SessionRecord>()
  #timer: ReturnType<typeof setInterval> | undefined
  #opts: Required<Omit<StoreOptions, "dataDir">> & { dataDir?: string }

  private constructor(opts: StoreOptions) {
    this.#opts = { checkpointMs: 100, budgetMs: 8, compactAfter: 1000, clock: Date.now, onError: () => {}, ...opts }
    const storage = opts.dataDir ? new NodeFSStorageAdapter(join(opts.dataDir, "automerge")) : undefined
    this.repo = new Repo({ storage, network: [], peerId: opts.peerId as PeerId, sharePolicy: async () => false })
  }

  static async open(opts: StoreOptions): Promise<Store> {
    const store = new Store(opts)
    await store.#openRegistry()
    store.#timer = setInterval(() => store.writeCheckpoints(store.#opts.budgetMs), Math.max(10, store.#opts.checkpointMs / 2))
    return store
  }

  get registry(): Readonly<RegistryDoc> {
    return this.#registry.doc() ?? { sessions: {} }
  }

  entry(id: string): RegistryEntry | undefined {
    const e = this.registry.sessions[id]
    return e ? fromAutomerge<RegistryEntry>(e) : undefined
  }

  /** Creates the session's document and its registry entry. */
  create(record: SessionRecord, owner: string, epoch = 1): AutomergeUrl {
    const handle = this.repo.create<SessionDoc>(toAutomerge({ epoch, record }) as SessionDoc)
    this.#written.set(record.id, { handle, last: record, at: this.#opts.clock(), changes: 0 })
    this.#setEntry(record.id, { game: record.game, doc: handle.url, owner, epoch, status: record.status, updatedAt: this.#opts.clock() })
    return handle.url
  }

  /** Remembers the newest record; it is written by the next round (coalesced). */
  checkpoint(record: SessionRecord): void {
    this.#dirty.set(record.id, record)
  }

  /**
   * Writes dirty sessions, oldest first, until the budget is spent. A session
   * written less than `checkpointMs` ago waits for the next round.
   */
  writeCheckpoints(budgetMs = Number.POSITIVE_INFINITY, force = false): number {
    const start = performance.now()
    const now = this.#opts.clock()
    let count = 0
    for (const [id, record] of this.#dirty) {
      if (performance.now() - start > budgetMs) break
      const w = this.#written.get(id)
      if (!w) {
        this.#dirty.delete(id)
        continue
      }
      if (!force && now - w.at < this.#opts.checkpointMs) continue
      this.#dirty.delete(id)
      try {
        this.#write(w, record)
        count++
      } catch (error) {
        this.#opts.onError(id, error)
      }
    }
    return count
  }

  #write(w: Written, record: SessionRecord): void {
    const ops = diff(w.last, record)
    const statusChanged = w.last.status !== record.status
    w.last = record
    w.at = this.#opts.clock()
    if (ops.length === 0) return
    if (w.changes >= this.#opts.compactAfter) {
      this.#compact(w, record)
    } else {
      w.handle.change((d) => applyOpsToDoc(d.record, ops))
      w.changes++
    }
    if (statusChanged) this.#patchEntry(record.id, { status: record.status })
  }

  /** automerge keeps all history: roll over to a fresh document from the current value instead. */
  #compact(w: Written, record: SessionRecord): void {
    const old = w.handle
    const epoch = old.doc()?.epoch ?? 1
    w.handle = this.repo.create<SessionDoc>(toAutomerge({ epoch, record }) as SessionDoc)
    w.changes = 0
    this.#patchEntry(record.id, { doc: w.handle.url })
    this.repo.delete(old.url)
  }

  /** Loads a session's record from its document (from disk, or later from peers). */
  async load(id: string): Promise<{ record: SessionRecord; epoch: number }> {
    const e = this.entry(id)
    if (!e) throw new Error(`no registry entry for session ${id}`)
    const handle = await this.repo.find<SessionDoc>(e.doc)
    const doc = fromAutomerge<SessionDoc>(handle.doc())
    this.#written.set(id, { handle, last: doc.record, at: this.#opts.clock(), changes: 0 })
    return doc
  }

  /** Claims a loaded session for `owner` (a restarted node is a new node). */
  adopt(id: string, owner: string): void {
    this.#patchEntry(id, { owner })
  }

  /** Forgets a session: its registry entry and its document. */
  remove(id: string): void {
    const w = this.#written.get(id)
    this.#dirty.delete(id)
    this.#written.delete(id)
    this.#registry.change((d) => {
      delete d.sessions[id]
    })
    if (w) this.repo.delete(w.handle.url)
  }

  /** Size in bytes of a session's document as saved (for the footprint figures). */
  docSize(id: string): number {
    const w = this.#written.get(id)
    const doc = w?.handle.doc()
    return doc ? save(doc).byteLength : 0
  }

  /** Writes every pending checkpoint now and waits until storage has it. */
  async flush(): Promise<void> {
    this.writeCheckpoints(Number.POSITIVE_INFINITY, true)
    await this.repo.flush()
  }

  async close(): Promise<void> {
    clearInterval(this.#timer)
    await this.flush()
    await this.repo.shutdown()
  }

  #setEntry(id: string, entry: RegistryEntry): void {
    this.#registry.change((d) => {
      d.sessions[id] = toAutomerge(entry) as RegistryEntry
    })
  }

  #patchEntry(id: string, patch: Partial<RegistryEntry>): void {
    this.#registry.change((d) => {
      const e = d.sessions[id]
      if (!e) return
      for (const [k, v] of Object.entries({ ...patch, updatedAt: this.#opts.clock() }))
        (e as unknown as Record<string, unknown>)[k] = toAutomerge(v)
    })
  }

  async #openRegistry(): Promise<void> {
    const dir = this.#opts.dataDir
    const pointer = dir ? join(dir, "baton-node.json") : undefined
    if (pointer && existsSync(pointer)) {
      const { registry } = JSON.parse(readFileSync(pointer, "utf8")) as { registry: AutomergeUrl }
      this.#registry = await this.repo.find<RegistryDoc>(registry)
      return
    }
    this.#registry = this.repo.create<RegistryDoc>({ sessions: {} })
    if (dir && pointer) {
      mkdirSync(dir, { recursive: true })
      await this.repo.flush([this.#registry.documentId])
      writeFileSync(pointer, JSON.stringify({ registry: this.#registry.url }))
    }
  }
}
