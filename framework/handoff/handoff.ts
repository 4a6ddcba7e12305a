import { type Cluster, type Member, rank } from "../cluster/index.ts"
import type { SessionRecord } from "../game/index.ts"
import type { Logger } from "../log/index.ts"
import { Store } from "../store/index.ts"

/** What moving sessions needs of the node (the node implements it; no import cycle). */
export interface HandoffHost {
  readonly id: string
  readonly log: Logger
  readonly store: Store
  hostedEpochs(): Map<string, number>
  /** The epoch of one session running here (hostedEpochs copies them all: too much per session of a drain). */
  epochOf(id: string): number | undefined
  freeze(id: string): SessionRecord | undefined
  thaw(id: string): void
  release(id: string, reason: string, urls?: string[]): void
  /** `document`: the session document's bytes a handoff carried (the target continues that document). */
  adopt(record: SessionRecord, epoch: number, via: string, document?: { bytes: Uint8Array; url?: string }): unknown
  finalDocument(id: string): Uint8Array
  setDraining(): void
  recordMove(kind: "handoff" | "failover", ms: number): void
}

/** A handoff request: the session's document (its automerge changes) and the epoch the target takes. */
export interface HandoffRequest {
  t: "handoff"
  session: string
  epoch: number
  /** base64 of the document's bytes. */
  doc: string
  /** The document's URL: the target writes on in the same document (older nodes start a fresh one). */
  url?: string
  /** The live record, exactly-once answers included (the document keeps only their counters). */
  record?: SessionRecord
  from: string
}

export interface HostingRequest {
  t: "hosting"
  sessions: string[]
}

export interface ClaimedRequest {
  t: "claimed"
  session: string
  owner: string
}

export interface MoveResult {
  session: string
  to?: string
  /** How long the session was frozen (no action applied), ms. */
  pauseMs: number
  error?: string
}

export interface DrainReport {
  sessions: number
  moved: number
  failed: MoveResult[]
  ms: number
  pauseP50: number | null
  pauseP99: number | null
  moves: MoveResult[]
}

/**
 * Sessions outlive the process that runs them: planned moves (drain →
 * handoff), unplanned ones (failover from a replica), and fencing, so that
 * two nodes never both run one session for long.
 */
export class Handoff {
  #host: HandoffHost
  #cluster: Cluster
  #takingOver = new Set<string>()

  #shadow: (session: string) => { epoch: number; record: SessionRecord } | undefined

  /** `shadow`: the newest record a replica was sent directly ("replicated" durability), if any. */
  constructor(host: HandoffHost, cluster: Cluster, shadow: (session: string) => { epoch: number; record: SessionRecord } | undefined = () => undefined) {
    this.#host = host
    this.#cluster = cluster
    this.#shadow = shadow
    cluster.on("node-down", (m) => void this.#failover(m))
    host.store.onEntriesChanged((ids) => this.fence(ids))
  }

  /** Target side: apply the changes, load (migrate, validate), resume, take the epoch. */
  accept(req: HandoffRequest): { ok: true } {
    // The live record is the newest state there is (the document is its last checkpoint, written
    // just before); the document's changes are read only when the record did not come along.
    const bytes = Buffer.from(req.doc, "base64")
    const record = req.record?.id === req.session ? req.record : Store.fromBytes(bytes).record
    this.#host.adopt(record, req.epoch, `handoff from ${req.from}`, { bytes, url: req.url })
    return { ok: true }
  }

  /** Source side: freeze, write the final checkpoint, hand it to the node placement names, release. */
  async handOff(id: string, deadline: number): Promise<MoveResult> {
    const started = performance.now()
    const epoch = this.#host.epochOf(id)
    const record = this.#host.freeze(id)
    if (!record || epoch === undefined) return { session: id, pauseMs: 0, error: "not running here" }
    let doc: string
    try {
      doc = Buffer.from(this.#host.finalDocument(id)).toString("base64")
    } catch (error) {
      // One session whose document cannot be written must not end the drain of all the others.
      this.#host.thaw(id)
      this.#host.log.error("handoff failed: the session's document cannot be written; the session stays here", { session: id, error })
      return { session: id, pauseMs: performance.now() - started, error: `document cannot be written: ${(error as Error).message}` }
    }
    const url = this.#host.store.urlOf(id)
    const refusals: string[] = []
    // Placement's order: newest version first, so a roll moves each session once. A node that
    // cannot load the state (an older game version's state it cannot migrate) refuses; the next is asked.
    for (const target of this.#candidates(id)) {
      const left = deadline - Date.now()
      if (left <= 0) break
      try {
        await this.#cluster.request(target.id, { t: "handoff", session: id, epoch: epoch + 1, doc, url, record, from: this.#host.id } satisfies HandoffRequest, Math.min(left, 10_000))
        this.#host.release(id, `handed off to ${target.id}`, [target.url])
        const pauseMs = performance.now() - started
        this.#host.recordMove("handoff", pauseMs)
        return { session: id, to: target.id, pauseMs }
      } catch (error) {
        refusals.push(`${target.id} (v${target.version}): ${(error as Error).message}`)
        this.#host.log.warn("handoff refused; trying the next node", { session: id, target: target.id, version: target.version, why: (error as Error).message })
      }
    }
    this.#host.thaw(id)
    const why = refusals.length ? refusals.join("; ") : "no ready node to take it"
    this.#host.log.error("handoff failed; the session stays here", { session: id, why })
    return { session: id, pauseMs: performance.now() - started, error: why }
  }

  /**
   * Turns the node draining (readiness fails, placement skips it) and hands
   * every session over, a bounded number at a time. A lone node waits for a
   * peer until the deadline.
   */
  async drain(graceMs: number, concurrency = 8): Promise<DrainReport> {
    const started = performance.now()
    const deadline = Date.now() + graceMs
    this.#host.setDraining()
    const ids = [...this.#host.hostedEpochs().keys()]
    if (ids.length > 0 && !this.#peersReady()) {
      // Alone: with a disk store the sessions wait on disk for the next start; without one, wait
      // for a peer (a one-machine deploy starts the new process, then stops the old one).
      if (this.#host.store.persistent) {
        this.#host.log.info("draining alone: sessions stay on disk for the next start", { sessions: ids.length })
        return { sessions: ids.length, moved: 0, failed: [], ms: Math.round(performance.now() - started), pauseP50: null, pauseP99: null, moves: [] }
      }
      // Every peer stopping too is a whole cluster going down (Ctrl-C on `bun run dev`): nobody is coming.
      const othersStopping = this.#cluster.members().some((m) => m.id !== this.#host.id && m.up && m.status === "draining")
      if (!othersStopping) {
        this.#host.log.info("draining: waiting for a peer to hand sessions to", { sessions: ids.length, graceMs })
        await this.#waitFor(() => this.#peersReady(), deadline)
      }
    }
    const moves: MoveResult[] = []
    let next = 0
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++] as string
        if (this.#peersReady()) moves.push(await this.handOff(id, deadline))
        else moves.push({ session: id, pauseMs: 0, error: "no peer before the grace deadline" })
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker))
    const pauses = moves.filter((m) => !m.error).map((m) => m.pauseMs).sort((a, b) => a - b)
    const pct = (q: number) => (pauses.length ? Math.round((pauses[Math.min(pauses.length - 1, Math.floor(q * pauses.length))] as number) * 10) / 10 : null)
    return {
      sessions: ids.length,
      moved: pauses.length,
      failed: moves.filter((m) => m.error),
      ms: Math.round(performance.now() - started),
      pauseP50: pct(0.5),
      pauseP99: pct(0.99),
      moves,
    }
  }

  /** Stops every session here (or those of `ids`) for which the registry names a newer owner (a higher epoch). */
  fence(ids?: Iterable<string>): void {
    for (const id of ids ?? this.#host.hostedEpochs().keys()) {
      const epoch = this.#host.epochOf(id)
      if (epoch === undefined) continue
      const e = this.#host.store.entry(id)
      if (!e) continue
      if (e.epoch > epoch || (e.epoch === epoch && e.owner !== this.#host.id && this.#cluster.member(e.owner)?.up)) {
        this.#host.release(id, `fenced: ${e.owner} owns it at epoch ${e.epoch}`)
      }
    }
  }

  /**
   * Sessions whose owner is not in the cluster (it died, or the whole
   * cluster restarted from disk): the head of each one's ranking takes it
   * over from its copy of the document, with the epoch bumped.
   */
  async adoptOrphans(): Promise<number> {
    let taken = 0
    for (const [id, e] of this.#host.store.entries()) {
      if (e.status !== "open" || e.owner === this.#host.id) continue
      if (this.#cluster.member(e.owner)?.up) continue
      // Not knowing the owner is not knowing it is gone (we may not have met it yet): ask the others.
      if (await this.#claimedElsewhere(id, e.owner)) continue
      if (await this.#takeOver(id, e.epoch, `orphan of ${e.owner}`)) taken++
    }
    return taken
  }

  /** Does any peer run this session, or see its owner up? */
  async #claimedElsewhere(session: string, owner: string): Promise<boolean> {
    const peers = this.#cluster.members().filter((m) => m.up && m.id !== this.#host.id)
    const answers = await Promise.all(
      peers.map((p) => this.#cluster.request(p.id, { t: "claimed", session, owner } satisfies ClaimedRequest, 1_000).catch(() => true)),
    )
    return answers.some((a) => a === true)
  }

  /** Answers a peer's #claimedElsewhere. */
  claimed(req: ClaimedRequest): boolean {
    return this.#host.epochOf(req.session) !== undefined || this.#cluster.member(req.owner)?.up === true
  }

  async #failover(m: Member): Promise<void> {
    const started = performance.now()
    // A node that left gracefully said which sessions it handed off: our registry copy may still
    // name it for those (the new owner's write not synced yet, or the new owner out of our reach).
    const mine = this.#host.store
      .entries()
      .filter(([id, e]) => e.owner === m.id && e.status === "open" && !m.movedOut?.[id] && rank(id, this.#cluster.ready())[0]?.id === this.#host.id)
    if (mine.length === 0) return
    // Our registry copy may be behind: a session the departed node handed over before it left still
    // names it. Whatever a live peer runs is not ours to take (that would be two owners).
    const hosted = await this.#hostedByPeers(mine.map(([id]) => id))
    let taken = 0
    await Promise.all(
      mine.map(async ([id, e]) => {
        if (hosted.has(id)) return
        if (await this.#takeOver(id, e.epoch, `failover from ${m.id}`)) {
          taken++
          this.#host.recordMove("failover", performance.now() - started)
        }
      }),
    )
    if (taken) this.#host.log.info("failover", { from: m.id, sessions: taken, ms: Math.round(performance.now() - started) })
  }

  /** Which of these sessions some live peer runs (asked of all of them at once). */
  async #hostedByPeers(sessions: string[]): Promise<Set<string>> {
    const peers = this.#cluster.members().filter((p) => p.up && p.id !== this.#host.id)
    const answers = await Promise.all(
      peers.map((p) => this.#cluster.request(p.id, { t: "hosting", sessions } satisfies HostingRequest, 2_000).catch(() => [] as string[])),
    )
    return new Set(answers.flat() as string[])
  }

  /** Answers a peer's #hostedByPeers. */
  hosting(req: HostingRequest): string[] {
    return req.sessions.filter((id) => this.#host.epochOf(id) !== undefined)
  }

  async #takeOver(id: string, epoch: number, via: string): Promise<boolean> {
    if (rank(id, this.#cluster.ready())[0]?.id !== this.#host.id) return false
    if (this.#takingOver.has(id) || this.#host.epochOf(id) !== undefined) return false
    this.#takingOver.add(id)
    try {
      let copy: { record: SessionRecord; epoch: number } | undefined = this.#host.store.replicaCopy(id) ?? (await this.#host.store.loadCopy(id, 2_000))
      // Under "replicated" durability the shadow has every acknowledged action; the document may lag it.
      const shadow = this.#shadow(id)
      if (shadow && (!copy || shadow.record.rev > copy.record.rev)) copy = shadow
      if (!copy) {
        this.#host.log.error("cannot take over: no copy of the session's document here", { session: id, via })
        return false
      }
      this.#host.adopt(copy.record, Math.max(epoch, copy.epoch) + 1, via)
      return true
    } catch (error) {
      this.#host.log.error("cannot take over the session", { session: id, via, error })
      return false
    } finally {
      this.#takingOver.delete(id)
    }
  }

  #candidates(id: string): Member[] {
    return rank(id, this.#cluster.ready().filter((m) => m.id !== this.#host.id))
  }

  #peersReady(): boolean {
    return this.#cluster.ready().some((m) => m.id !== this.#host.id)
  }

  async #waitFor(cond: () => boolean, deadline: number): Promise<void> {
    while (!cond() && Date.now() < deadline) await Bun.sleep(50)
  }
}
