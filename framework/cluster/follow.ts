import type { AutomergeUrl, DocHandle } from "@automerge/automerge-repo"
import { SampleWindow } from "../metrics/index.ts"
import { newestCheckpoint, type SessionDoc } from "../store/index.ts"
import type { Cluster } from "./cluster.ts"
import type { NodePort } from "./port.ts"
import type { Replicator } from "./replication.ts"

/** Replica documents a node starts fetching per round (every FOLLOW_ROUND_MS while there are more). */
const FOLLOW_PER_ROUND = 25
/** Registry changes come in bursts (a thousand sessions created): one look per burst. */
const FOLLOW_ROUND_MS = 50
/** A document not available yet (its owner's announce has not arrived): asked for again after this, ms. */
const REFETCH_MS = 1_000
/** Shadows are pruned at most this often, ms (a look at every shadow costs a registry lookup each). */
const PRUNE_EVERY_MS = 2_000
/** A session not in this node's registry yet (the stream can beat the registry's sync) keeps its shadow this long, ms. */
const UNKNOWN_SHADOW_MS = 60_000
/** How long a replica keeps its copy of a session after leaving its replica set (its owner alive), ms. */
const SHADOW_GRACE_MS = 30_000

/** What following needs of placement (role.ts caches replica sets per session). */
export interface ReplicaSets {
  replicaSet(session: string): string[]
  /** The registry no longer has the session. */
  forget(session: string): void
  /** Cached sets are many more than the sessions known: drop the cache (lookups of sessions long gone). */
  trim(known: number): void
}

/**
 * Keeps a synced copy of every session document this node is a replica
 * (not the owner) of, and drops the streamed shadows it no longer needs.
 * Looks only at sessions whose registry entries changed, and at every
 * session when membership changes (replica sets move then).
 */
export class ReplicaFollower {
  /** How old a checkpoint was when it reached a replica's automerge document. */
  readonly documentLag = new SampleWindow(10_000)
  readonly #node: NodePort
  readonly #cluster: Cluster
  readonly #sets: ReplicaSets
  readonly #replicator: Replicator
  /** Replica copies this node follows: session id → handle, and how to stop listening to it. */
  #following = new Map<string, { handle: DocHandle<SessionDoc>; off: () => void }>()
  /** Document id → session id, kept from the registry (announce asks per peer and document). */
  #docToSession = new Map<string, string>()
  #sessionToDoc = new Map<string, string>()
  /** Sessions whose entries changed since the last look. */
  #toLook = new Set<string>()
  /** Look at every session next time (at start, and when members or their status change). */
  #lookAtAll = true
  #shadowsPrunedAt = 0
  #pruneTimer: unknown
  #followTimer: unknown
  /** Document URLs being fetched to follow. */
  #fetching = new Set<string>()
  #stopped = false

  constructor(node: NodePort, cluster: Cluster, sets: ReplicaSets, replicator: Replicator) {
    this.#node = node
    this.#cluster = cluster
    this.#sets = sets
    this.#replicator = replicator
    node.store.onEntriesChanged((ids) => {
      for (const id of ids) this.#toLook.add(id)
      this.#soon()
    })
  }

  get following(): number {
    return this.#following.size
  }

  /** The replica set of the session a document holds (automerge-repo's announce asks by document). */
  replicaSetOfDoc(docId: string): string[] {
    const session = this.#docToSession.get(docId)
    return session ? this.#sets.replicaSet(session) : []
  }

  /** Replica sets moved (a member came, went or changed status): every session may be ours to follow now, or no longer. */
  lookAtAll(): void {
    this.#lookAtAll = true
    this.#soon()
  }

  stop(): void {
    this.#stopped = true
    this.#node.clock.clearTimeout(this.#followTimer)
    this.#node.clock.clearTimeout(this.#pruneTimer)
  }

  #soon(): void {
    if (this.#stopped) return
    this.#followTimer ??= this.#node.clock.setTimeout(() => {
      this.#followTimer = undefined
      this.#look()
    }, FOLLOW_ROUND_MS)
  }

  /**
   * A node joining a big cluster is a replica of thousands at once: it
   * fetches a bounded number per round, so its event loop keeps answering
   * heartbeats (a node silent for seconds is taken for dead, and its
   * sessions taken over while it runs them).
   */
  #look(): void {
    let sessions: Set<string> = this.#toLook
    this.#toLook = new Set()
    const all = this.#lookAtAll
    if (all) {
      // Only at start and when members or their status change: a look at every session costs
      // several µs each (~95 ms at 30,000: tests/bench/registry-change.ts).
      this.#lookAtAll = false
      const entries = this.#node.store.entries()
      sessions = new Set([...sessions, ...entries.map(([id]) => id), ...this.#sessionToDoc.keys(), ...this.#following.keys()])
    }
    this.#sets.trim(this.#sessionToDoc.size)
    let docsChanged = false
    let started = 0
    for (const session of sessions) {
      const e = this.#node.store.entry(session)
      if (this.#mapDoc(session, e?.doc)) docsChanged = true
      if (!e) this.#sets.forget(session)
      const mine = e !== undefined && this.#isReplica(session, e)
      const held = this.#following.get(session)?.handle
      if (!mine) {
        if (held) this.#unfollow(session)
        continue
      }
      if (held?.url === e.doc || this.#fetching.has(e.doc)) continue
      if (started++ >= FOLLOW_PER_ROUND) this.#toLook.add(session)
      else this.#follow(session, e.doc)
    }
    // What to announce to whom depends on which session a document is (announce asks by document).
    if (docsChanged) this.#node.store.repo.shareConfigChanged()
    if (this.#toLook.size > 0) this.#soon()
    if (all || this.#node.clock.now() - this.#shadowsPrunedAt > PRUNE_EVERY_MS) this.#pruneShadows()
    else this.#pruneTimer ??= this.#node.clock.setTimeout(() => this.#pruneShadows(), PRUNE_EVERY_MS)
  }

  /** Whether this node is a replica of the session (and not its owner). */
  #isReplica(session: string, e = this.#node.store.entry(session)): boolean {
    return e !== undefined && e.owner !== this.#node.id && this.#sets.replicaSet(session).includes(this.#node.id)
  }

  #unfollow(session: string): void {
    this.#following.get(session)?.off()
    this.#following.delete(session)
  }

  /** Records which document a session is written to; true when that changed. */
  #mapDoc(session: string, url: string | undefined): boolean {
    const doc = url?.replace(/^automerge:/, "")
    const had = this.#sessionToDoc.get(session)
    if (had === doc) return false
    if (had !== undefined) this.#docToSession.delete(had)
    if (doc === undefined) this.#sessionToDoc.delete(session)
    else {
      this.#sessionToDoc.set(session, doc)
      this.#docToSession.set(doc, session)
    }
    return true
  }

  #follow(session: string, url: AutomergeUrl): void {
    this.#fetching.add(url)
    void this.#node.store.repo.find<SessionDoc>(url).then(
      (handle) => {
        this.#fetching.delete(url)
        // While it was fetched the entry may have moved to another document, or the session to this
        // node or out of its replica set: look at it again instead.
        if (this.#node.store.entry(session)?.doc !== url || !this.#isReplica(session)) {
          this.#toLook.add(session)
          return this.#soon()
        }
        const onChange = ({ doc }: { doc: SessionDoc }) => {
          const newest = newestCheckpoint(doc)
          if (newest) this.documentLag.add(this.#node.clock.now() - newest.at)
        }
        this.#unfollow(session)
        handle.on("change", onChange)
        this.#following.set(session, { handle, off: () => handle.off("change", onChange) })
      },
      () => {
        this.#fetching.delete(url)
        // automerge-repo keeps an unavailable handle and answers from it until the owner's announce
        // brings the document: try again in a while, not at once.
        this.#node.clock.setTimeout(() => {
          this.#toLook.add(session)
          this.#soon()
        }, REFETCH_MS)
      },
    )
  }

  /** Every replicated session leaves a shadow here: drop those of sessions that are gone or not ours to hold. */
  #pruneShadows(): void {
    this.#node.clock.clearTimeout(this.#pruneTimer)
    this.#pruneTimer = undefined
    this.#shadowsPrunedAt = this.#node.clock.now()
    // Draining, this node is in no replica set, and its copies are what it hands on before it goes (handOnCopies).
    if (this.#cluster.self.status === "draining") return
    this.#replicator.pruneShadows((session, idleMs) => {
      const e = this.#node.store.entry(session)
      if (!e) return idleMs < UNKNOWN_SHADOW_MS
      if (e.status !== "open") return false
      if (this.#sets.replicaSet(session).includes(this.#node.id)) return true
      // An owner that is not up, or silent past its heartbeats, may have died: its takeover needs the
      // newest copy, which may be this one (seed 5 of the simulator: a shadow dropped when a new member
      // moved the replica set, while the owner's power-off was not detected yet, lost two acked actions).
      if (this.#cluster.member(e.owner)?.up !== true || this.#cluster.silentMs(e.owner) > 2 * this.#cluster.heartbeatMs) return true
      // Out of the replica set, with the owner alive: the new replicas get its whole record at once
      // (resync on every membership change) and its document within a checkpoint. Until they surely
      // have, this copy may be the only one of the last acknowledged actions.
      return idleMs < SHADOW_GRACE_MS
    })
  }
}
