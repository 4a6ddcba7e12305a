import "./no-native-cbor.ts"
import { join } from "node:path"
import { free, load, save } from "@automerge/automerge"
import { type AutomergeUrl, type DocHandle, type DocumentId, type PeerId, Repo, type StorageAdapterInterface } from "@automerge/automerge-repo"
import type { SessionRecord, Step } from "../game/index.ts"
import { AtomicFSStorageAdapter } from "./atomic-fs.ts"
import { CheckedStorage, type DamagedFile } from "./checked-storage.ts"
import { Journal, type Journaled } from "./journal.ts"
import { newerCopy } from "./newest.ts"
import { closeHandle, docIdOf, freeWhenDone, openParked, PARK_AFTER_MS, PARK_EVERY_MS, parkedDocument, QUIET_PARK_AFTER_MS, readParked, SETTLE_MS } from "./parking.ts"
import { registryRebuild, type UnreadableDocument } from "./rebuild.ts"
import { Registry, type RegistryDoc, type RegistryEntry, registryDocId } from "./registry.ts"
import { checkpointOps, fromStored, logEntry, newestCheckpoint, newSessionDoc, readHistory, readSessionDoc, readStored, type SessionCopy, type SessionDoc, toStored } from "./session-doc.ts"

export interface StoreOptions {
  /** A directory for automerge-repo-storage-nodefs; in memory when absent. */
  dataDir?: string
  /** Sync each file written to disk (survives power loss, not only a crash of the process). */
  fsync?: boolean
  /**
   * Without a data dir: automerge-repo storage for the documents that does not
   * outlive the process (the simulator's disk). The store stays not `persistent`.
   */
  volatileStorage?: StorageAdapterInterface
  peerId: string
  /** Nodes of one cluster share the registry document; its id derives from this name. */
  clusterName?: string
  /** Least time between two checkpoints of one session (coalescing), ms. */
  checkpointMs?: number
  /** Node-wide time budget per checkpoint round, ms: game actions never wait behind automerge. */
  budgetMs?: number
  /** How long a session's document stays open after it was last written or asked for, ms (see parking.ts). */
  parkAfterMs?: number
  /** How long instead when `quiet` says nobody plays the session here, ms (see parking.ts). */
  quietParkAfterMs?: number
  /** Whether a session runs here with nobody connected to it (its document is parked sooner). */
  quiet?: (session: string) => boolean
  /** Checkpoints after which a document is rolled over to a fresh one (history stays bounded). */
  compactAfter?: number
  /** Bytes of checkpoint log after which a document is rolled over (when also more than twice its base). */
  compactAfterBytes?: number
  clock?: () => number
  /** A checkpoint that could not be written (the session keeps running; the next round retries). */
  onError?: (session: string, error: unknown) => void
  /** What was found damaged in the data dir, and what was done about it. */
  onDamage?: (event: DataDirEvent) => void
  /** A group commit (see persist) reached the disk: how many sessions it wrote and how long it took. */
  onCommit?: (sessions: number, ms: number) => void
}

/** Damage found in the data dir: nothing is deleted, damaged files are moved under `<dataDir>/damaged/<time>/`. */
export type DataDirEvent =
  /** A chunk of a session document that could not be read, set aside (`session` when the registry names it). */
  | ({ t: "damaged-file"; session?: string } & DamagedFile)
  /** The registry was damaged (its files set aside) or missing, and was rebuilt from the session documents. */
  | { t: "registry-rebuilt"; why: "damaged" | "missing"; setAside: DamagedFile[]; sessions: number; unreadable: UnreadableDocument[] }
  /** Lines of the journal that could not be read (skipped); the file is kept at `movedTo`. */
  | { t: "damaged-journal"; file: string; lines: number[]; movedTo?: string }

interface Written {
  /** The session's document. */
  url: AutomergeUrl
  /** Its handle while it is open; parked, its bytes instead (see parking.ts). */
  handle?: DocHandle<SessionDoc>
  parked?: Uint8Array
  /** The automerge actor that wrote the parked bytes (it writes on when they open: see openParked). */
  actor?: string
  /** With a storage, the parked bytes' save (a journal line about a fresh document waits for it). */
  saved?: Promise<void>
  /** When it was last written or asked for by a peer. */
  usedAt: number
  /** performance.now() when its handle last opened or changed (see SETTLE_MS). */
  changedAt?: number
  /** The epoch this node writes under (a handoff continues the document under a new one). */
  epoch: number
  /** Whether an entry under `epoch` is in the document yet (the next write carries it even if nothing changed). */
  epochWritten?: boolean
  /** The record as last written, in stored form (see toStored). */
  last: SessionRecord
  at: number
  /** Log entries and their bytes since the document was started (compaction bounds both). */
  entries: number
  logBytes: number
  baseBytes: number
  /** The document was started here and no group commit saved it yet (a journal line needs it on disk). */
  fresh?: boolean
}

/**
 * The node's automerge-repo Repo and what Baton keeps in it. Checkpoints are
 * coalesced: `checkpoint()` only remembers the newest record; a round every
 * few ms writes the dirty ones as diffs, within a time budget.
 */
export class Store {
  readonly repo: Repo
  #registry!: Registry
  #written = new Map<string, Written>()
  #dirty = new Map<string, SessionRecord>()
  /** The steps that led to each dirty record since its last checkpoint: the next one carries them. */
  #steps = new Map<string, Step[]>()
  /** Sessions whose documents are open, least recently used first (parking looks at the head only). */
  #open = new Map<string, Written>()
  /** Document id → session, for the documents written here (a peer asks by document). */
  #byDoc = new Map<string, string>()
  /** Documents whose handles are being closed (see closeHandle). */
  #closing = new Map<string, Promise<void>>()
  #timer: ReturnType<typeof setInterval> | undefined
  #parkTimer: ReturnType<typeof setTimeout> | undefined
  /** performance.now() when the last look for documents to park started (see SETTLE_MS). */
  #lookedAt = Number.NEGATIVE_INFINITY
  #storage: CheckedStorage | undefined
  /** Damaged chunks of the registry found while opening it (reported with its rebuild). */
  #registryDamage: DamagedFile[] = []
  /** Sessions whose documents could not be read here: named again when the node stops. */
  #unreadable = new Map<string, UnreadableDocument>()
  #opts: Required<Omit<StoreOptions, "dataDir" | "volatileStorage">> & { dataDir?: string }
  /** With a data dir: what "replicated" acks wait for when no replica is live (see persist). */
  #journal: Journal | undefined
  /** Sessions the journal held at start, newer than their documents may be. */
  #recovered = new Map<string, Journaled>()
  /** Records to write in the next group commit, and who waits for it. */
  #toPersist = new Map<string, SessionRecord>()
  #nextCommit: PromiseWithResolvers<void> | undefined
  /** The group commit in flight (close waits for it). */
  #committing: Promise<void> | undefined

  private constructor(opts: StoreOptions) {
    this.#opts = {
      ...opts,
      checkpointMs: opts.checkpointMs ?? 100,
      budgetMs: opts.budgetMs ?? 8,
      compactAfter: opts.compactAfter ?? 200,
      parkAfterMs: opts.parkAfterMs ?? PARK_AFTER_MS,
      quietParkAfterMs: Math.min(opts.quietParkAfterMs ?? QUIET_PARK_AFTER_MS, opts.parkAfterMs ?? PARK_AFTER_MS),
      quiet: opts.quiet ?? (() => false),
      compactAfterBytes: opts.compactAfterBytes ?? 32 * 1024,
      clock: opts.clock ?? Date.now,
      fsync: opts.fsync ?? false,
      onError: opts.onError ?? (() => {}),
      onDamage: opts.onDamage ?? (() => {}),
      onCommit: opts.onCommit ?? (() => {}),
      clusterName: opts.clusterName ?? "baton",
    }
    // Set aside under the path a file had in the data dir: copying the folder back restores it as it was.
    const aside = opts.dataDir && join(opts.dataDir, "damaged", new Date(this.#opts.clock()).toISOString().replaceAll(":", "-"), "automerge")
    this.#storage =
      opts.dataDir && aside
        ? new CheckedStorage(new AtomicFSStorageAdapter(join(opts.dataDir, "automerge"), join(opts.dataDir, "tmp"), opts.fsync), join(opts.dataDir, "automerge"), aside, (f) => this.#onDamagedFile(f))
        : undefined
    this.repo = new Repo({
      storage: this.#storage ?? (opts.dataDir ? undefined : opts.volatileStorage),
      network: [],
      peerId: opts.peerId as PeerId,
      shareConfig: { announce: async () => false, access: async () => false },
    })
  }

  static async open(opts: StoreOptions): Promise<Store> {
    const store = new Store(opts)
    const registryId = registryDocId(store.#opts.clusterName)
    const rebuilt = store.#storage && (await registryRebuild(store.#storage, registryId, () => store.#registryDamage.splice(0)))
    store.#registry = await Registry.open(store.repo, store.#opts.clusterName, opts.peerId, store.#storage, store.#opts.clock)
    if (rebuilt) {
      store.#registry.restore(rebuilt.entries)
      store.#opts.onDamage({ t: "registry-rebuilt", why: rebuilt.why, setAside: rebuilt.setAside, sessions: rebuilt.entries.size, unreadable: rebuilt.unreadable })
    }
    if (opts.dataDir) {
      const { journal, recovered, damaged } = Journal.read(join(opts.dataDir, "journal"), opts.fsync)
      // Sessions the registry no longer names (removed) are not carried over.
      for (const [id, j] of recovered) if (store.entry(id)) store.#recovered.set(id, j)
      await journal.start(store.#recovered, join(opts.dataDir, "damaged", new Date(store.#opts.clock()).toISOString().replaceAll(":", "-"), "journal"))
      for (const d of damaged) store.#opts.onDamage({ t: "damaged-journal", file: d.file, lines: d.lines, movedTo: d.movedTo })
      store.#journal = journal
    }
    store.#timer = setInterval(() => store.writeCheckpoints(store.#opts.budgetMs), Math.max(10, store.#opts.checkpointMs / 2))
    // A timer of its own: a handle being closed must not be reopened before its removal ends (see closeHandle).
    // Armed after each look, not at an interval: see SETTLE_MS.
    const look = () => {
      try {
        store.parkIdle(store.#opts.budgetMs)
      } finally {
        store.#parkTimer = setTimeout(look, PARK_EVERY_MS)
      }
    }
    store.#parkTimer = setTimeout(look, PARK_EVERY_MS)
    return store
  }

  #onDamagedFile(f: DamagedFile): void {
    if (f.document === registryDocId(this.#opts.clusterName) && !this.#registry) return void this.#registryDamage.push(f)
    const url = `automerge:${f.document}`
    const session = this.#registry?.entries().find(([, e]) => e.doc === url)?.[0]
    this.#opts.onDamage({ t: "damaged-file", ...f, ...(session ? { session } : {}) })
  }

  /** Sessions whose stored documents could not be read (they were left on disk as they are). */
  unreadable(): (UnreadableDocument & { session: string })[] {
    return [...this.#unreadable].map(([session, u]) => ({ session, ...u }))
  }

  /** Whether sessions survive this process (a data dir is set). */
  get persistent(): boolean {
    return this.#storage !== undefined
  }

  get registryHandle(): DocHandle<RegistryDoc> {
    return this.#registry.handle
  }

  /** Every registry entry as plain values (pending writes included). */
  entries(): [string, RegistryEntry][] {
    return this.#registry.entries()
  }

  entry(id: string): RegistryEntry | undefined {
    return this.#registry.entry(id)
  }

  /** Whether a member that reads only flat registry entries (an older version) is in the cluster. */
  setFlatRegistryReaders(present: boolean): void {
    this.#registry.setFlatReaders(present)
  }

  /** Calls `fn` with the ids of the sessions whose registry entries changed (here or on a peer). */
  onEntriesChanged(fn: (ids: Set<string>) => void): void {
    this.#registry.onChanged(fn)
  }

  /** Decides, per peer and document, what is announced and what a peer may fetch. */
  share(config: { announce(peer: string, doc: string): boolean; access(peer: string, doc: string): boolean }): void {
    this.repo.shareConfig = {
      announce: async (peer, doc) => (doc ? config.announce(peer, doc) : false),
      access: async (peer, doc) => {
        const ok = config.access(peer, doc)
        // Asked before every message a peer sends about a document: one asking for a parked document
        // (a replica that was away, or a new one) finds it open, as if it had never been closed.
        if (ok && doc) this.#openForPeer(doc)
        return ok
      },
    }
    this.repo.shareConfigChanged()
  }

  /** Creates the session's document and its registry entry. */
  create(record: SessionRecord, owner: string, epoch = 1): AutomergeUrl {
    const stored = toStored(record)
    const at = this.#opts.clock()
    const w: Written = { ...this.#newDocument(record.id, stored, epoch, at), epoch, last: stored, at, entries: 0, logBytes: 0 }
    this.#track(record.id, w)
    this.#registry.set(record.id, { game: record.game, doc: w.url, owner, epoch, status: record.status, updatedAt: this.#opts.clock() })
    return w.url
  }

  /** A fresh document holding `stored`, parked: it opens once there is something to sync (saved to storage now, when there is one). */
  #newDocument(id: string, stored: SessionRecord, epoch: number, at: number): Pick<Written, "url" | "parked" | "actor" | "saved" | "usedAt" | "baseBytes" | "fresh"> {
    const { doc, baseBytes } = newSessionDoc(stored, epoch, at)
    const { url, bytes, actor } = parkedDocument(doc as unknown as Record<string, unknown>)
    return { url, parked: bytes, actor, saved: this.#saveParked(id, url, bytes), usedAt: this.#opts.clock(), baseBytes, fresh: true }
  }

  /** Stores parked bytes through automerge-repo's storage (a reopened handle then saves only what is new). */
  #saveParked(id: string, url: AutomergeUrl, bytes: Uint8Array, doc?: unknown): Promise<void> | undefined {
    const storage = this.repo.storageSubsystem
    if (!storage) return undefined
    const own = doc === undefined ? load(bytes) : undefined
    const saving = storage.saveDoc(docIdOf(url), (doc ?? own) as never).finally(() => own && free(own))
    saving.catch((error) => this.#opts.onError(id, error))
    return saving
  }

  /** Starts keeping a session's document here (open or parked). */
  #track(id: string, w: Written): void {
    const had = this.#written.get(id)
    if (had && had.url !== w.url) this.#byDoc.delete(docIdOf(had.url))
    this.#written.set(id, w)
    this.#byDoc.set(docIdOf(w.url), id)
    this.#open.delete(id)
    if (w.handle) this.#open.set(id, w)
  }

  #untrack(id: string): Written | undefined {
    const w = this.#written.get(id)
    this.#written.delete(id)
    this.#open.delete(id)
    if (w && this.#byDoc.get(docIdOf(w.url)) === id) this.#byDoc.delete(docIdOf(w.url))
    return w
  }

  /** The session's document handle, opened if it was parked; counts as a use (parking waits for it to stay idle). */
  #handleOf(id: string, w: Written): DocHandle<SessionDoc> {
    w.usedAt = this.#opts.clock()
    w.changedAt = performance.now()
    this.#open.delete(id)
    this.#open.set(id, w)
    if (w.handle) return w.handle
    const docId = docIdOf(w.url)
    if (this.#closing.has(docId)) throw new Error(`the document of session ${id} is being closed`)
    w.handle = openParked<SessionDoc>(this.repo, w.url, w.parked as Uint8Array, w.actor)
    w.parked = undefined
    return w.handle
  }

  #openForPeer(doc: string): void {
    const id = this.#byDoc.get(doc)
    const w = id === undefined ? undefined : this.#written.get(id)
    if (!id || !w || this.#closing.has(doc)) return
    try {
      this.#handleOf(id, w)
    } catch (error) {
      this.#opts.onError(id, error)
    }
  }

  /**
   * Parks the documents that were neither written nor asked for during
   * parkAfterMs, or quietParkAfterMs for a session nobody plays here (and
   * have nothing waiting to be written), oldest first, within the budget.
   * Runs on a timer of its own (see closeHandle).
   */
  parkIdle(budgetMs = Number.POSITIVE_INFINITY, now = this.#opts.clock()): number {
    const start = performance.now()
    const settledBefore = this.#lookedAt - SETTLE_MS
    this.#lookedAt = start
    let parked = 0
    for (const [id, w] of this.#open) {
      const idleMs = now - w.usedAt
      if (idleMs < this.#opts.quietParkAfterMs || performance.now() - start > budgetMs) break
      if (idleMs < this.#opts.parkAfterMs && !this.#opts.quiet(id)) continue
      if (this.#dirty.has(id) || this.#toPersist.has(id) || !w.handle?.isReady() || (w.changedAt ?? 0) > settledBefore) continue
      try {
        this.#park(id, w, w.handle)
        parked++
      } catch (error) {
        // It stays open, and is tried again after parkAfterMs (a document that cannot be saved is reported, not dropped).
        this.#opts.onError(id, error)
        w.usedAt = now
        this.#open.delete(id)
        this.#open.set(id, w)
      }
    }
    return parked
  }

  #park(id: string, w: Written, handle: DocHandle<SessionDoc>): void {
    const { bytes, actor, doc, closed } = closeHandle(this.repo, handle as DocHandle<unknown>)
    this.#closingUntil(handle.documentId, closed)
    w.handle = undefined
    w.parked = bytes
    w.actor = actor
    // Usually saved long ago (automerge-repo saves 100 ms after a change): then this finds nothing to write.
    w.saved = this.#saveParked(id, w.url, bytes, doc)
    // Unloading the handle reads the document (its last heads): free it after (see freeWhenDone for why only without storage).
    if (!this.repo.storageSubsystem) freeWhenDone(doc, closed)
    this.#open.delete(id)
  }

  /** Removes a handle nothing here tracks from the repo, as parking does (see closeHandle). */
  #dropHandle(docId: DocumentId, handle: DocHandle<SessionDoc>): void {
    handle.removeAllListeners()
    this.#closingUntil(docId, this.repo.removeFromCache(docId))
  }

  /** A document whose handle is being removed may not be opened again until `closed` settles (see closeHandle). */
  #closingUntil(docId: DocumentId, closed: Promise<void>): void {
    this.#closing.set(docId, closed)
    closed.finally(() => this.#closing.delete(docId)).catch(() => {})
  }

  /**
   * Takes a handed-over session's document on (a handoff): merges the
   * changes the old owner sent into this node's copy (a replica has most of
   * them already) or imports them, then writes on in the same document under
   * `epoch`, starting with `record` (which may be migrated). Replicas keep
   * following the same document. False when the bytes do not end at the
   * record handed over; the caller starts a fresh document then.
   */
  continueFrom(record: SessionRecord, owner: string, epoch: number, bytes: Uint8Array, url: string | undefined = this.entry(record.id)?.doc): boolean {
    if (!url?.startsWith("automerge:")) return false
    const docId = url.replace(/^automerge:/, "") as DocumentId
    // A handle still being closed here would be unloaded under the session: a fresh document instead.
    if (this.#closing.has(docId)) return false
    let handle: DocHandle<SessionDoc>
    const fresh = !this.repo.handles[docId]
    try {
      handle = this.repo.import<SessionDoc>(bytes, { docId })
      if (!handle.isReady()) (handle as unknown as { doneLoading(): void }).doneLoading()
    } catch {
      return false
    }
    const read = readStored(handle.doc())
    if (!read || !Number.isFinite(read.entries) || read.stored.rev !== record.rev) {
      // A handle made only for these bytes would stay in the repo with nothing tracking it.
      if (fresh) this.#dropHandle(docId, handle)
      return false
    }
    const base = String((handle.doc() as unknown as { base: unknown }).base).length
    const w: Written = { url: handle.url, handle, usedAt: this.#opts.clock(), changedAt: performance.now(), epoch, epochWritten: false, last: read.stored, at: 0, entries: read.entries, logBytes: read.logBytes, baseBytes: base, fresh: true }
    this.#track(record.id, w)
    // The entry that carries the new epoch is written by the next round, not inside the handoff's pause.
    this.#dirty.set(record.id, record)
    // The entry names this document already (unless a compaction just replaced it): patch what changed.
    if (this.entry(record.id)?.doc === w.url) this.#registry.patch(record.id, { owner, epoch, status: record.status })
    else this.#registry.set(record.id, { game: record.game, doc: w.url, owner, epoch, status: record.status, updatedAt: this.#opts.clock() })
    return true
  }

  /** Remembers the newest record and the steps that led to it; they are written by the next round (coalesced). */
  checkpoint(record: SessionRecord, steps: readonly Step[] = []): void {
    this.#dirty.set(record.id, record)
    this.#addSteps(record.id, steps)
  }

  #addSteps(id: string, steps: readonly Step[]): void {
    if (steps.length === 0) return
    const pending = this.#steps.get(id)
    if (pending) pending.push(...steps)
    else this.#steps.set(id, steps.slice())
  }

  /** Steps of a session not in its document yet (the inspector shows them with the live record). */
  pendingSteps(id: string): readonly Step[] {
    return this.#steps.get(id) ?? []
  }

  /**
   * The history of a session's document as this node holds it (the one it
   * writes, or a replica's copy), or undefined when it holds none loaded.
   */
  history(id: string): (ReturnType<typeof readHistory> & { url: string }) | undefined {
    const w = this.#written.get(id)
    if (w?.parked) {
      const h = readParked(w.parked, readHistory)
      return h && { ...h, url: w.url }
    }
    const written = w?.handle
    const e = this.entry(id)
    const handle = written ?? (e ? (this.repo.handles[e.doc.replace(/^automerge:/, "") as never] as DocHandle<SessionDoc> | undefined) : undefined)
    if (!handle?.isReady()) return undefined
    const h = readHistory(handle.doc())
    return h && { ...h, url: handle.url }
  }

  /**
   * Writes the session's record to disk and resolves once the write returned
   * ("replicated" durability when no replica is live): a line in the journal
   * (see journal.ts), with the registry and any document not saved yet, so
   * that a restart finds the session. Group commit: every record passed
   * while a write is in flight goes in the next one, one write() for all of
   * them, so a burst of actions costs one write, not one each.
   */
  persist(record: SessionRecord): Promise<void> {
    if (!this.#journal) return Promise.reject(new Error("no data dir: nothing to persist to"))
    this.#toPersist.set(record.id, record)
    this.#nextCommit ??= Promise.withResolvers<void>()
    const done = this.#nextCommit.promise
    // Sessions flushed in the same turn join this commit.
    if (!this.#committing) queueMicrotask(() => void this.#commit())
    return done
  }

  #commit(): Promise<void> | undefined {
    if (this.#committing || !this.#nextCommit) return
    this.#committing = this.#writeCommit(this.#nextCommit).finally(() => {
      this.#committing = undefined
      void this.#commit()
    })
    return this.#committing
  }

  async #writeCommit(waiting: PromiseWithResolvers<void>): Promise<void> {
    const journal = this.#journal
    if (!journal) return
    const batch = this.#toPersist
    this.#toPersist = new Map()
    this.#nextCommit = undefined
    const started = performance.now()
    try {
      const items: { id: string; record: SessionRecord; epoch: number }[] = []
      // The registry names each session and its document; both must be on disk before its line counts.
      const docs = [this.#registry.handle.documentId]
      const saves: Promise<void>[] = []
      for (const [id, record] of batch) {
        const w = this.#written.get(id)
        if (!w) continue
        items.push({ id, record: toStored(record), epoch: w.epoch })
        if (w.fresh && w.handle) docs.push(w.handle.documentId)
        else if (w.fresh && w.saved) saves.push(w.saved)
        w.fresh = false
      }
      this.#registry.flush()
      await Promise.all([journal.append(items), this.repo.flush(docs), ...saves])
      this.#opts.onCommit(items.length, performance.now() - started)
      waiting.resolve()
    } catch (error) {
      waiting.reject(error)
    }
  }

  /**
   * The journal's record of a session when it is newer than `copy` (a
   * restart after a crash). With no copy to compare, it must be of the
   * registry's epoch or newer: a session that moved on from this node under
   * a newer epoch has left older lines here.
   */
  #journaled(id: string, copy: { rev: number; epoch: number } | undefined): Journaled | undefined {
    const j = this.#recovered.get(id)
    const floor = copy ?? { rev: -1, epoch: this.entry(id)?.epoch ?? 0 }
    return j && newerCopy({ epoch: j.epoch, rev: j.record.rev }, floor) ? j : undefined
  }

  /**
   * Writes dirty sessions, oldest first, until the budget is spent. A session
   * written less than `checkpointMs` ago waits for the next round.
   */
  writeCheckpoints(budgetMs = Number.POSITIVE_INFINITY, force = false): number {
    const start = performance.now()
    const now = this.#opts.clock()
    let count = 0
    const failed: [string, SessionRecord][] = []
    for (const [id, record] of this.#dirty) {
      if (performance.now() - start > budgetMs) break
      const w = this.#written.get(id)
      if (!w) {
        this.#dirty.delete(id)
        this.#steps.delete(id)
        continue
      }
      if (!force && now - w.at < this.#opts.checkpointMs) continue
      // Its handle is being closed (see closeHandle): the next round opens it again.
      if (this.#closing.size > 0 && !w.handle && this.#closing.has(docIdOf(w.url))) continue
      this.#dirty.delete(id)
      try {
        this.#write(w, record)
        count++
      } catch (error) {
        failed.push([id, record])
        this.#opts.onError(id, error)
      }
    }
    // Not written: the next round tries again (after the loop: a Map visits a key set again during its iteration).
    for (const [id, record] of failed) if (!this.#dirty.has(id)) this.#dirty.set(id, record)
    return count
  }

  /** `always`: write an entry even when nothing changed (it carries a new epoch). */
  #write(w: Written, live: SessionRecord, always = w.epochWritten === false): void {
    const record = toStored(live)
    const ops = checkpointOps(w.last, record)
    const statusChanged = w.last.status !== record.status
    const at = this.#opts.clock()
    const steps = this.#steps.get(record.id)
    if (ops.length > 0 || always) {
      // A session busier than the cap keeps a readable history, not a replayable one (the inspector exports after it).
      const kept = steps && steps.length <= MAX_STEPS_PER_CHECKPOINT ? { steps } : {}
      const entry = logEntry({ rev: record.rev, base: w.last.rev, epoch: w.epoch, at, ops, ...kept })
      const bytes = entry.val.length
      if (w.entries >= this.#opts.compactAfter || w.logBytes + bytes > Math.max(this.#opts.compactAfterBytes, 2 * w.baseBytes)) {
        w.at = at
        this.#compact(record.id, w, record)
      } else {
        // Opening a parked document can fail: then nothing below moves on, and the next round writes this again.
        this.#handleOf(record.id, w).change((d) => {
          d.log.push(entry as unknown as string)
        })
        w.entries++
        w.logBytes += bytes
      }
      w.epochWritten = true
    }
    // Only once the document holds it: the next diff starts from here.
    w.last = record
    w.at = at
    this.#steps.delete(record.id)
    if (statusChanged) this.#registry.patch(record.id, { status: record.status })
  }

  /** automerge keeps all history: roll over to a fresh document from the current value instead. */
  #compact(id: string, w: Written, record: SessionRecord): void {
    const old = { url: w.url, open: w.handle !== undefined }
    Object.assign(w, this.#newDocument(id, record, w.epoch, w.at), { handle: undefined, entries: 0, logBytes: 0 })
    this.#open.delete(id)
    this.#byDoc.delete(docIdOf(old.url))
    this.#byDoc.set(docIdOf(w.url), id)
    this.#registry.patch(record.id, { doc: w.url })
    this.#deleteLater(old.url, old.open)
  }

  /** Loads a session's record from its document (from disk, or later from peers). */
  async load(id: string): Promise<{ record: SessionRecord; epoch: number }> {
    const e = this.entry(id)
    if (!e) throw new Error(`no registry entry for session ${id}`)
    let read: ReturnType<typeof readStored>
    let held: Pick<Written, "handle" | "parked">
    try {
      // From storage without a handle (the session starts parked); from peers when storage has none.
      const stored = await this.repo.storageSubsystem?.loadDoc<SessionDoc>(docIdOf(e.doc))
      if (stored) {
        read = readStored(stored)
        held = { parked: save(stored) }
        free(stored)
      } else {
        const handle = await this.repo.find<SessionDoc>(e.doc)
        read = readStored(handle.doc())
        held = { handle }
      }
      if (!read) throw new Error(`document ${e.doc} of session ${id} holds no session`)
    } catch (error) {
      this.#unreadable.set(id, { document: e.doc.replace(/^automerge:/, ""), why: error instanceof Error ? error.message : String(error) })
      throw error
    }
    const w: Written = { url: e.doc, ...held, usedAt: this.#opts.clock(), changedAt: performance.now(), epoch: read.epoch, last: read.stored, at: this.#opts.clock(), entries: read.entries, logBytes: read.logBytes, baseBytes: 0 }
    this.#track(id, w)
    // A document of the older layout (one field per value) cannot take log entries: start a fresh one.
    if (!Number.isFinite(read.entries)) this.#compact(id, w, read.stored)
    const j = this.#journaled(id, { rev: read.stored.rev, epoch: read.epoch })
    if (!j) return { record: fromStored(read.stored), epoch: read.epoch }
    this.#recovered.delete(id)
    // Acknowledged after the document's last checkpoint: the next round writes it there too.
    const record = fromStored(j.record)
    this.#dirty.set(id, record)
    return { record, epoch: j.epoch }
  }

  /** The URL of the document a session is written to here. */
  urlOf(id: string): AutomergeUrl | undefined {
    return this.#written.get(id)?.url
  }

  /** The session's document as bytes, after writing its newest record and the steps to it (a handoff carries these). */
  saveNow(record: SessionRecord, steps: readonly Step[] = []): Uint8Array {
    const w = this.#written.get(record.id)
    if (!w) throw new Error(`no document for session ${record.id}`)
    this.#dirty.delete(record.id)
    this.#addSteps(record.id, steps)
    try {
      this.#write(w, record)
    } catch (error) {
      this.#dirty.set(record.id, record)
      throw error
    }
    // Parked and nothing new to write (an idle session in a drain): its bytes are the document.
    if (w.parked) return w.parked
    const doc = w.handle?.doc()
    if (!doc) throw new Error(`document of session ${record.id} is not loaded`)
    return save(doc)
  }

  /** Reads a session document from bytes (a handoff's). */
  static fromBytes(bytes: Uint8Array): SessionCopy {
    const copy = readParked(bytes, readSessionDoc)
    if (!copy) throw new Error("the document holds no session")
    return copy
  }

  /** This node's copy of a session's document, if it holds one (a replica taking over). */
  replicaCopy(id: string): SessionCopy | undefined {
    const e = this.entry(id)
    if (!e) return undefined
    const parked = this.#parkedBytes(e.doc)
    if (parked) return this.#withJournal(id, readParked(parked, readSessionDoc))
    const handle = this.repo.handles[e.doc.replace(/^automerge:/, "") as never] as DocHandle<SessionDoc> | undefined
    // Not loaded: loadCopy reads it (the journal alone may be older than the document).
    if (!handle?.isReady()) return undefined
    return this.#withJournal(id, readSessionDoc(handle.doc()))
  }

  /** The bytes of a document parked here. */
  #parkedBytes(url: string): Uint8Array | undefined {
    const id = this.#byDoc.get(url.replace(/^automerge:/, ""))
    const w = id === undefined ? undefined : this.#written.get(id)
    return w?.url === url ? w.parked : undefined
  }

  /**
   * What this node holds of a document, open or parked: the newest
   * checkpoint's revision and the document's epoch (for operators' views).
   */
  heldCheckpoint(url: string): { rev: number; epoch: number } | undefined {
    const parked = this.#parkedBytes(url)
    const handle = parked ? undefined : (this.repo.handles[url.replace(/^automerge:/, "") as never] as DocHandle<SessionDoc> | undefined)
    const read = (doc: unknown) => {
      const newest = newestCheckpoint(doc)
      return newest && { rev: newest.rev, epoch: Number((doc as SessionDoc).epoch) }
    }
    if (parked) return readParked(parked, read)
    return handle?.isReady() ? read(handle.doc()) : undefined
  }

  #withJournal(id: string, copy: SessionCopy | undefined): SessionCopy | undefined {
    const j = this.#journaled(id, copy && { rev: copy.record.rev, epoch: copy.epoch })
    return j ? { record: fromStored(j.record), epoch: j.epoch, at: copy?.at ?? 0 } : copy
  }

  /** Fetches a session's document (from disk, or from the peers that hold it), then reads it. */
  async loadCopy(id: string, timeoutMs: number): Promise<SessionCopy | undefined> {
    const e = this.entry(id)
    if (!e) return undefined
    const parked = this.#parkedBytes(e.doc)
    if (parked) return this.#withJournal(id, readParked(parked, readSessionDoc))
    try {
      const handle = await this.repo.find<SessionDoc>(e.doc, { signal: AbortSignal.timeout(timeoutMs) })
      return this.#withJournal(id, readSessionDoc(handle.doc()))
    } catch {
      return this.#withJournal(id, undefined)
    }
  }

  /** Stops writing a session here (it moved away); the registry entry is the new owner's now. */
  forget(id: string): void {
    this.#journal?.drop(id)
    this.#recovered.delete(id)
    const w = this.#untrack(id)
    this.#dirty.delete(id)
    this.#steps.delete(id)
    if (w) this.#deleteLater(w.url, w.handle !== undefined)
  }

  /** Claims a loaded session for `owner` (a restarted node is a new node). */
  adopt(id: string, owner: string): void {
    this.#registry.patch(id, { owner })
  }

  /** A session whose every copy is gone: ended in the registry, so that no node waits to run it again. */
  markLost(id: string): void {
    if (this.entry(id)?.status === "open") this.#registry.patch(id, { status: "ended" })
  }

  /** Forgets a session: its registry entry and its document. */
  remove(id: string): void {
    this.#journal?.drop(id)
    this.#recovered.delete(id)
    const w = this.#untrack(id)
    this.#dirty.delete(id)
    this.#steps.delete(id)
    this.#registry.remove(id)
    if (w) this.#deleteLater(w.url, w.handle !== undefined)
  }

  /** Size in bytes of a session's document as saved (for the footprint figures). */
  docSize(id: string): number {
    const w = this.#written.get(id)
    if (w?.parked) return w.parked.byteLength
    const doc = w?.handle?.doc()
    return doc ? save(doc).byteLength : 0
  }

  /** How many of the documents written here are open and how many parked. */
  documents(): { open: number; parked: number } {
    return { open: this.#open.size, parked: this.#written.size - this.#open.size }
  }

  /**
   * Writes every pending checkpoint now and waits until storage has it. A
   * document that failed to save is reported (onError) and does not keep
   * the others from being saved.
   */
  async flush(): Promise<void> {
    this.#registry.flush()
    this.writeCheckpoints(Number.POSITIVE_INFINITY, true)
    // repo.flush() of every handle throws at the first one that is not ready (a document that could not
    // be loaded, or one still being fetched from a peer) while the others' saves are still under way.
    const ready = Object.entries(this.repo.handles).filter(([, h]) => h.isReady())
    const saved = await Promise.allSettled(ready.map(([id]) => this.repo.flush([id as DocumentId])))
    saved.forEach((r, i) => {
      if (r.status === "rejected") this.#opts.onError(this.#byDoc.get(String(ready[i]?.[0])) ?? String(ready[i]?.[0]), r.reason)
    })
    // Parked documents' saves (failures were reported as they happened).
    await Promise.allSettled([...this.#written.values()].flatMap((w) => (w.saved ? [w.saved] : [])))
  }

  async close(): Promise<void> {
    clearInterval(this.#timer)
    clearTimeout(this.#parkTimer)
    // What repo.shutdown() does, with the flush above (its own flush of every handle throws as said there).
    for (const adapter of this.repo.networkSubsystem.adapters) adapter.disconnect()
    await this.flush()
    // Acks waiting on a commit get it before the journal closes.
    while (this.#committing) await this.#committing
    await this.#journal?.close()
  }

  /** See DELETE_AFTER_MS. A parked document is in the repo only through its storage. */
  #deleteLater(url: AutomergeUrl, open: boolean): void {
    if (!open && !this.repo.storageSubsystem) return
    setTimeout(() => {
      try {
        this.repo.delete(url)
      } catch {
        // already gone with the repo
      }
    }, DELETE_AFTER_MS).unref()
  }
}

/**
 * How long a collected session's document lives on, ms: deleting a document
 * the synchronizer is still announcing to peers makes automerge-repo log
 * errors for it (its announce and sync rounds are throttled to 100 ms each;
 * a peer's reply can take a round trip more), so the current rounds finish
 * first. Nothing reads the document meanwhile: the registry entry is gone.
 */
const DELETE_AFTER_MS = 3_000

/**
 * The most steps a checkpoint carries. Past it (a session acting more than
 * ~130 times a second at the default checkpoint period) the entry leaves
 * them out: at ~100 bytes a step they were most of every entry, and the
 * document was compacted at almost every checkpoint. Such an entry is
 * readable, not replayable: the inspector's export starts after it.
 */
const MAX_STEPS_PER_CHECKPOINT = 64
