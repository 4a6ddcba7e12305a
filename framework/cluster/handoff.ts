import type { Cluster, Member } from "./cluster.ts"
import { rank } from "./placement.ts"
import type { SessionRecord } from "../game/index.ts"
import type { HandoffHost } from "./port.ts"
import { newestCopy, Store } from "../store/index.ts"
import { PeerFailure, PeerRequestError, type Request } from "./protocol.ts"
import { Takeover } from "./takeover.ts"
import { errorText } from "../protocol/index.ts"

/**
 * How long a drain aims to take, ms: moves run one at a time while that
 * finishes in time, more (up to the drain's maximum) when it would not (a
 * thousand sessions). Seven moves at once on a busy machine kept the relayed
 * players of sessions that were not even moving waiting ~250 ms; one at a
 * time, ~180 ms (tests/bench/pauses.ts).
 */
const DRAIN_AIM_MS = 1_000
/** What a move is taken to cost before the first one is timed, ms. */
const FIRST_MOVE_GUESS_MS = 20
/** The least time left that more moves at once are counted against, ms (past the aim: go at the maximum). */
const MIN_LEFT_MS = 50

/** How many moves a drain runs at once: one, or as many as finish the `remaining` ones in the time left (at most `max`). */
export function movesInFlight(remaining: number, perMoveMs: number, msLeft: number, max: number): number {
  return Math.max(1, Math.min(max, Math.ceil((remaining * perMoveMs) / Math.max(MIN_LEFT_MS, msLeft))))
}

/** Failure timeouts a takeover waits, per place in the ranking behind the head, before a node not at the head tries. */
const STEP_ASIDE = 2

/** A handoff: the session's document (its automerge changes), its live record, and the epoch the target takes. */
export type HandoffRequest = Request<"handoff">
export type HostingRequest = Request<"hosting">
export type ClaimedRequest = Request<"claimed">


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
  readonly takeover: Takeover

  #shadow: (session: string) => { epoch: number; record: SessionRecord } | undefined

  /** `shadow`: the newest record a replica was sent directly ("replicated" durability), if any. */
  constructor(host: HandoffHost, cluster: Cluster, shadow: (session: string) => { epoch: number; record: SessionRecord } | undefined = () => undefined) {
    this.#host = host
    this.#cluster = cluster
    this.#shadow = shadow
    this.takeover = new Takeover(host, cluster, (session) => this.#newestCopy(session))
    cluster.on("node-down", (m) => {
      this.#noteMovedOut(m)
      void this.sweep()
    })
    host.store.onEntriesChanged((ids) => this.fence(ids))
  }

  /** This node's newest copy of a session: the shadow a replica was streamed, or its document (with the journal). */
  #newestCopy(session: string): { record: SessionRecord; epoch: number; streamed: boolean } | undefined {
    const doc = this.#host.store.replicaCopy(session)
    const shadow = this.#shadow(session)
    const streamed = shadow && { ...shadow, rev: shadow.record.rev, streamed: true }
    const checkpointed = doc && { record: doc.record, epoch: doc.epoch, rev: doc.record.rev, streamed: false }
    const best = newestCopy([streamed, checkpointed].filter((c) => c !== undefined))
    return best && { record: best.record, epoch: best.epoch, streamed: best.streamed }
  }

  /** Target side: apply the changes, load (migrate, validate), resume, take the epoch. */
  accept(req: HandoffRequest): { ok: true } {
    // The live record is the newest state there is (the document is its last checkpoint, written
    // just before); the document's changes are read only when the record did not come along.
    // A request that arrives late (its sender gave up on it and moved the session elsewhere) finds the epoch taken.
    const e = this.#host.store.entry(req.session)
    if (e && e.epoch >= req.epoch && e.owner !== req.from) throw new Error(`epoch ${e.epoch} of ${req.session} belongs to ${e.owner}`)
    // A node that is leaving too takes nothing (it would only have to move it again): the source asks the next one.
    // Its own code, so the source does not warn about it: every node stopping at once is no deploy gone wrong.
    if (this.#cluster.self.status !== "ready") throw new PeerFailure({ code: "leaving", message: `${this.#host.id} is ${this.#cluster.self.status}` })
    const bytes = Buffer.from(req.doc, "base64")
    const record = req.record?.id === req.session ? req.record : Store.fromBytes(bytes).record
    this.#host.adopt(record, req.epoch, `handoff from ${req.from}`, { bytes, url: req.url })
    return { ok: true }
  }

  /** Source side: freeze, write the final checkpoint, hand it to the node placement names, release. */
  async handOff(id: string, deadline: number): Promise<MoveResult> {
    const started = this.#host.clock.monotonic()
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
      this.#host.emit({ t: "handoff-failed", session: id, why: `document cannot be written: ${errorText(error)}` })
      return { session: id, pauseMs: this.#host.clock.monotonic() - started, error: `document cannot be written: ${(error as Error).message}` }
    }
    const url = this.#host.store.urlOf(id)
    const refusals: string[] = []
    // Placement's order: newest version first, so a roll moves each session once. A node that
    // cannot load the state (an older game version's state it cannot migrate) refuses; the next is asked.
    let attempt = 0
    const fenced = (why: string): MoveResult | undefined => {
      if (this.#host.epochOf(id) === epoch) return undefined
      const e = this.#host.store.entry(id)
      const pauseMs = this.#host.clock.monotonic() - started
      if (e && e.owner !== this.#host.id && e.epoch > epoch) return { session: id, to: e.owner, pauseMs }
      return { session: id, pauseMs, error: `released while being handed off (${why})` }
    }
    for (const target of this.#candidates(id)) {
      const gone = fenced("fenced before the next attempt")
      if (gone) return gone
      const left = deadline - this.#host.clock.now()
      if (left <= 0) break
      // Each attempt takes a higher epoch: a request whose answer was lost (a link cut, a timeout) may
      // still be applied late, and that owner must lose to the next one, not tie with it.
      const next = epoch + 1 + attempt++
      try {
        await this.#cluster.request(target.id, "handoff", { session: id, epoch: next, doc, url, record, from: this.#host.id }, Math.min(left, 10_000))
        return await this.#handedOff(id, target, started, record, next, deadline)
      } catch (error) {
        const why = (error as Error).message
        // Fenced while the request was out: the target took it (its answer was lost on the way) and the
        // registry says so. It is no longer this node's to hand on: another node taking it too would run
        // it beside the one that has it (the simulator found this, seed 9127).
        const gone = fenced(why)
        if (gone) return gone
        // No answer is not a refusal: ask whether it took the session before giving it to anyone else.
        const declined = error instanceof PeerRequestError && error.code === "leaving"
        const refused = declined || (error instanceof PeerRequestError && error.code === "refused")
        if (!refused && (await this.#runsThere(target.id, id))) return await this.#handedOff(id, target, started, record, next, deadline)
        refusals.push(`${target.id} (v${target.version}): ${why}`)
        // A target that left or is leaving since it was picked is no fault to warn of: nodes stopping together do that.
        if (declined || !this.#cluster.ready().some((m) => m.id === target.id)) this.#host.log.info("handoff not taken: that node is leaving too; trying the next node", { session: id, target: target.id, why })
        else this.#host.log.warn("handoff refused; trying the next node", { session: id, target: target.id, version: target.version, why })
        this.#host.emit({ t: "handoff-refused", session: id, target: target.id, version: target.version, why })
      }
    }
    this.#host.thaw(id)
    const why = refusals.length ? refusals.join("; ") : "no ready node to take it"
    // Every other node stopping too (Ctrl-C on `bun run dev`, a whole cluster shut down) is no failure: nobody is coming.
    const everyoneLeaving = this.#cluster.ready().every((m) => m.id === this.#host.id)
    if (everyoneLeaving) this.#host.log.info("the session stays here: every other node is stopping too", { session: id })
    else {
      this.#host.log.error("handoff failed; the session stays here", { session: id, why })
      this.#host.emit({ t: "handoff-failed", session: id, why })
    }
    return { session: id, pauseMs: this.#host.clock.monotonic() - started, error: why }
  }

  async #handedOff(id: string, target: Member, started: number, record: SessionRecord, epoch: number, deadline: number): Promise<MoveResult> {
    this.#host.release(id, `handed off to ${target.id}`, target)
    const pauseMs = this.#host.clock.monotonic() - started
    this.#host.recordMove("handoff", pauseMs)
    // The target holds the only other copy until its replicas have one: if it died before, what this
    // node acknowledged would leave with it. The target's replicas get the handed record from here too.
    await this.copyOn?.(id, target.id, record, epoch, deadline)
    return { session: id, to: target.id, pauseMs }
  }

  /** Set by the cluster role: a session whose every copy is gone (the registry ends it; its players are told). */
  onLost?: (session: string, why: string) => void

  /** Set by the cluster role: gives a handed-off session's record to the target's replicas (see #handedOff). */
  copyOn?: (session: string, target: string, record: SessionRecord, epoch: number, deadline: number) => Promise<void>

  /** Whether `peer` runs the session (false when it cannot say within a second). */
  async #runsThere(peer: string, session: string): Promise<boolean> {
    for (let i = 0; i < 3; i++) {
      try {
        const runs = await this.#cluster.request(peer, "hosting", { sessions: [session] }, 1_000)
        return runs.includes(session)
      } catch {
        await this.#host.clock.sleep(200)
      }
    }
    return false
  }

  /**
   * Turns the node draining (readiness fails, placement skips it) and hands
   * every session over, as few at a time as finish in about DRAIN_AIM_MS.
   * A lone node waits for a peer until the deadline.
   */
  async drain(graceMs: number, maxInFlight = 8): Promise<DrainReport> {
    const started = this.#host.clock.monotonic()
    const deadline = this.#host.clock.now() + graceMs
    this.#host.setDraining()
    const ids = [...this.#host.hostedEpochs().keys()]
    if (ids.length > 0 && !this.#peersReady()) {
      // Alone: with a disk store the sessions wait on disk for the next start; without one, wait
      // for a peer (a one-machine deploy starts the new process, then stops the old one).
      if (this.#host.store.persistent) {
        this.#host.log.info("draining alone: sessions stay on disk for the next start", { sessions: ids.length })
        this.#host.emit({ t: "drain-kept-on-disk", sessions: ids.length })
        return { sessions: ids.length, moved: 0, failed: [], ms: Math.round(this.#host.clock.monotonic() - started), pauseP50: null, pauseP99: null, moves: [] }
      }
      // Every peer stopping too is a whole cluster going down (Ctrl-C on `bun run dev`): nobody is coming.
      // A peer that drained and left within the failure timeout counts (the signal reached it first, and
      // waiting here kept `bun run dev`'s Ctrl-C for the whole grace, 25 s, now and then), unless it handed
      // sessions to this node: that is a deploy stopping nodes one after another, and a peer may yet come.
      const now = this.#host.clock.now()
      const handedHere = (peer: string) => [...this.#movedAway.values()].some((x) => x.from === peer && x.to === this.#host.id)
      const othersStopping = this.#cluster
        .members()
        .some((m) => m.id !== this.#host.id && m.status === "draining" && (m.up || (!m.voter && now - m.lastHeard < this.#cluster.failureMs && !handedHere(m.id))))
      if (!othersStopping) {
        this.#host.log.info("draining: waiting for a peer to hand sessions to", { sessions: ids.length, graceMs })
        this.#host.emit({ t: "drain-waiting", sessions: ids.length, graceMs })
        await this.#waitFor(() => this.#peersReady(), deadline)
      }
    }
    const moves: MoveResult[] = []
    let next = 0
    // Each move in flight is a burst of work on this node and its target, and every player of every
    // session there waits behind it: as few run at once as finish the drain in about DRAIN_AIM_MS.
    const aimMs = Math.min(DRAIN_AIM_MS, graceMs / 2)
    let took = 0
    const inFlightWanted = () => movesInFlight(ids.length - next, moves.length ? took / moves.length : FIRST_MOVE_GUESS_MS, aimMs - (this.#host.clock.monotonic() - started), maxInFlight)
    let running = 0
    const worker = async (first: boolean): Promise<void> => {
      while (next < ids.length && (first || running <= inFlightWanted())) {
        const id = ids[next++] as string
        const from = this.#host.clock.monotonic()
        if (this.#peersReady()) moves.push(await this.handOff(id, deadline))
        else moves.push({ session: id, pauseMs: 0, error: "no peer before the grace deadline" })
        took += this.#host.clock.monotonic() - from
        // More moves are wanted than run: start another alongside this one.
        while (running < inFlightWanted() && next < ids.length) spawn()
      }
    }
    const workers: Promise<void>[] = []
    const spawn = () => {
      running++
      workers.push(worker(workers.length === 0).finally(() => running--))
    }
    while (running < inFlightWanted() && next < ids.length) spawn()
    // Workers spawn workers: wait until none is left.
    for (let i = 0; i < workers.length; i++) await workers[i]
    const pauses = moves.filter((m) => !m.error).map((m) => m.pauseMs).sort((a, b) => a - b)
    const pct = (q: number) => (pauses.length ? Math.round((pauses[Math.min(pauses.length - 1, Math.floor(q * pauses.length))] as number) * 10) / 10 : null)
    return {
      sessions: ids.length,
      moved: pauses.length,
      failed: moves.filter((m) => m.error),
      ms: Math.round(this.#host.clock.monotonic() - started),
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
   * Sessions whose owner is gone (it died, it is cut off, or the whole
   * cluster restarted from disk): the head of each one's ranking asks a
   * majority for the next epoch and takes it over from the newest copy
   * (takeover.ts). Runs on every node-down and periodically: a takeover
   * refused for want of a majority is tried again when one is back.
   */
  async sweep(): Promise<number> {
    if (this.#sweeping) return 0
    this.#sweeping = true
    const started = this.#host.clock.monotonic()
    try {
      const me = this.#host.id
      const ready = this.#cluster.ready()
      const due: [string, string][] = []
      for (const [id, e] of this.#host.store.entries()) {
        if (e.status !== "open" || e.owner === me || this.#host.epochOf(id) !== undefined) continue
        // A departed node said whom it handed the session to: our registry copy may not show it yet.
        const moved = this.#movedAway.get(id)
        const owner = moved?.from === e.owner ? moved.to : e.owner
        if (owner === me || this.#cluster.member(owner)?.up) {
          // Back (a partition healed): should it fail again, that is a new failure, not the old one's backoff
          // (the simulator found a crash 1.9 s after a heal waiting out a 2 s backoff from the cut, seed 70029).
          this.#retryAt.delete(id)
          continue
        }
        // Our own vote needs the owner's lease over: no round before that, and a sweep then.
        const lapsesIn = this.#cluster.lapsesInMs(owner)
        if (lapsesIn > 0) {
          this.#sweepIn(lapsesIn)
          continue
        }
        if ((this.#retryAt.get(id)?.at ?? 0) > this.#host.clock.now()) continue
        // The head of the ranking takes it over. One that cannot (its version of the game cannot load
        // the state, it is stuck) must not hold it forever: the next tries after STEP_ASIDE failure
        // timeouts more, the one after that after twice that (the simulator found a failover stuck on
        // a new version's node with no migration, while an old one could have taken it).
        const pos = rank(id, ready).findIndex((m) => m.id === me)
        if (pos < 0 || -lapsesIn < pos * STEP_ASIDE * this.#cluster.failureMs) continue
        due.push([id, owner])
      }
      if (due.length === 0) return 0
      let taken = 0
      const from = new Set<string>()
      const waiting: string[] = []
      let next = 0
      const worker = async () => {
        while (next < due.length) {
          const [id, owner] = due[next++] as [string, string]
          const out = await this.takeover.run(id, owner, `failover from ${owner}`)
          if (out.ok) {
            // Relays elsewhere waiting for it point here at once, not at their next look (frames sent in one task go as one).
            this.#cluster.sendToAll("owns", { sessions: [id] }, "owns")
            this.#retryAt.delete(id)
            taken++
            from.add(owner)
            this.#host.recordMove("failover", this.#host.clock.monotonic() - started)
          } else if (out.lost) {
            this.#retryAt.delete(id)
            this.#host.log.error("session lost: no copy of it is left", { session: id, owner, why: out.why })
            this.onLost?.(id, out.why)
          } else {
            waiting.push(`${id}: ${out.why}`)
            // Backs off per session, 0.5 s doubling to 2 s: a minority would otherwise ask every peer every
            // round for as long as a partition lasts, and a longer cap left a takeover waiting seconds after
            // a voter that was a little behind on the silence had caught up (the suspicion test, once).
            const tries = (this.#retryAt.get(id)?.tries ?? 0) + 1
            const wait = out.retryInMs !== undefined ? out.retryInMs + 5 : Math.min(2_000, 250 * 2 ** tries)
            this.#retryAt.set(id, { tries, at: this.#host.clock.now() + wait })
            this.#sweepIn(wait)
          }
        }
      }
      await Promise.all(Array.from({ length: Math.min(16, due.length) }, worker))
      if (taken) {
        const ms = Math.round(this.#host.clock.monotonic() - started)
        this.#host.log.info("failover", { sessions: taken, ms, from: [...from] })
        this.#host.emit({ t: "failover", sessions: taken, ms, from: [...from] })
      }
      if (waiting.length && this.#host.clock.now() - this.#saidWaiting > 5_000) {
        this.#saidWaiting = this.#host.clock.now()
        this.#host.log.warn("sessions wait to be taken over", { sessions: waiting.length, first: waiting[0] })
      }
      this.takeover.prune()
      for (const id of this.#retryAt.keys()) if (this.#host.store.entry(id)?.status !== "open") this.#retryAt.delete(id)
      return taken
    } finally {
      this.#sweeping = false
    }
  }
  #sweeping = false
  #retryAt = new Map<string, { tries: number; at: number }>()
  /** When the next sweep is due by a lease running out (the periodic one may come much later). */
  #wakeAt = Number.POSITIVE_INFINITY

  #sweepIn(ms: number): void {
    const at = this.#host.clock.now() + Math.max(1, ms)
    if (at >= this.#wakeAt) return
    this.#wakeAt = at
    this.#host.clock.setTimeout(() => {
      if (this.#wakeAt !== at || this.#cluster.self.status === "gone") return
      this.#wakeAt = Number.POSITIVE_INFINITY
      // A sweep already running re-checks nothing: go again just after it.
      if (this.#sweeping) this.#sweepIn(20)
      else void this.sweep()
    }, Math.max(1, ms))
  }
  #saidWaiting = 0
  /** Sessions a departed node said it handed off: while our registry copy still names it, they are not orphans. */
  #movedAway = new Map<string, { from: string; to: string; at: number }>()

  #noteMovedOut(m: Member): void {
    const now = this.#host.clock.now()
    for (const [id, x] of this.#movedAway) if (now - x.at > 60_000) this.#movedAway.delete(id)
    for (const [id, to] of Object.entries(m.movedOut ?? {})) if (typeof to === "string") this.#movedAway.set(id, { from: m.id, to, at: now })
  }

  /** Answers an older node's question: does this node run the session, or see its owner up? */
  claimed(req: ClaimedRequest): boolean {
    return this.#host.epochOf(req.session) !== undefined || this.#cluster.member(req.owner)?.up === true
  }

  /** Answers an older node's question: which of these sessions run here. */
  hosting(req: HostingRequest): string[] {
    return req.sessions.filter((id) => this.#host.epochOf(id) !== undefined)
  }

  #candidates(id: string): Member[] {
    return rank(id, this.#cluster.ready().filter((m) => m.id !== this.#host.id))
  }

  #peersReady(): boolean {
    return this.#cluster.ready().some((m) => m.id !== this.#host.id)
  }

  async #waitFor(cond: () => boolean, deadline: number): Promise<void> {
    while (!cond() && this.#host.clock.now() < deadline) await this.#host.clock.sleep(50)
  }
}
