import type { Cluster } from "./cluster.ts"
import { newestCopy } from "../store/index.ts"
import { isMajority } from "./quorum.ts"
import type { Answer, Message, Request } from "./protocol.ts"

/** Asks a member for its vote on one session's next epoch (the owner's lease from it must be over), and what copy it holds. */
export type GrantRequest = Request<"grant">
export type CopyRequest = Request<"copy">
/** The requester of a vote gave its epoch up. */
export type RetractMessage = Message<"grant-retract">
import type { SessionRecord } from "../game/index.ts"
import type { HandoffHost } from "./port.ts"

/**
 * A vote, with the voter's copy of the session either way (the takeover starts from the newest);
 * the copy's `streamed`: the owner's own stream (a replica's shadow), not a checkpointed document that may lag it.
 */
export type GrantAnswer = Answer<"grant">

type CopyVersion = NonNullable<GrantAnswer["copy"]>

type Copy = { record: SessionRecord; epoch: number; streamed?: boolean }

/** `retryInMs`: when the voters that refused expect the owner's lease to be over. */
/** `lost`: no member holds a copy, and those that did not answer died with theirs (the session is gone for good). */
export type TakeoverResult = { ok: true } | { ok: false; why: string; retryInMs?: number; lost?: true }

/** How long a vote holds a replica back from confirming the old owner's changes, ms. */
const PROMISE_MS = 10_000
/** A round adopts within this of its start, or gives up (its votes stand at least this long), ms. */
const ADOPT_WITHIN_MS = PROMISE_MS / 3
/** For the two nodes' clocks running at slightly different rates over ADOPT_WITHIN_MS, ms. */
const ADOPT_MARGIN_MS = 250

/**
 * Taking a session over needs a majority. A member votes for epoch e of a
 * session at most once (to one node), only once the owner's lease from it
 * is over (Cluster.lapsesInMs: the lease the owner announced, when it is
 * down here; otherwise a failure timeout of silence), so the owner
 * acknowledges nothing more, and never for an epoch it has seen used.
 * Two sides of a partition cannot both gather a majority, so two nodes
 * never run one session at one epoch; the old owner's writes are refused
 * by every voter that promised a newer epoch.
 *
 * The takeover starts from the newest copy any member that answered holds
 * (not whichever copy the new owner happens to have), and only once a
 * member holding a copy of the last owner's epoch answered: a replica cut
 * off from the majority may hold the last acknowledged actions, and
 * safety comes before availability.
 */
export class Takeover {
  #promised = new Map<string, { epoch: number; to: string; at: number }>()
  /** The highest epoch a voter said was taken, per session: the next attempt asks above it. */
  #seen = new Map<string, number>()

  constructor(
    readonly host: HandoffHost,
    readonly cluster: Cluster,
    readonly localCopy: (session: string) => Copy | undefined,
  ) {}

  /**
   * The epoch this node voted for in a takeover of the session, while the
   * vote stands: its replica confirms nothing older meanwhile. A vote lapses
   * after PROMISE_MS (a requester that did not adopt by then gives up long
   * before: see run), so a takeover that failed does not stall the owner.
   */
  promisedEpoch(session: string): number | undefined {
    const p = this.#promised.get(session)
    return p && this.host.clock.now() - p.at < PROMISE_MS ? p.epoch : undefined
  }

  /** Voter side. */
  grant(from: string, req: GrantRequest): GrantAnswer {
    const local = this.localCopy(req.session)
    const copy = local ? { epoch: local.epoch, rev: local.record.rev, streamed: local.streamed === true } : null
    const no = (why: string, epoch?: number, waitMs?: number): GrantAnswer => ({ ok: false, why, epoch, copy, waitMs })
    if (!Number.isSafeInteger(req.epoch) || req.epoch < 1 || typeof req.owner !== "string") return no("a malformed request")
    const running = this.host.epochOf(req.session)
    if (running !== undefined) return no(`it runs on ${this.host.id} at epoch ${running}`, running)
    const lapsesIn = this.#leaseLeft(req.owner)
    if (req.owner !== from && req.owner !== this.host.id && lapsesIn > 0)
      return no(`its owner ${req.owner} was heard ${Math.round(this.cluster.silentMs(req.owner))} ms ago`, undefined, Math.min(lapsesIn, 60_000))
    const e = this.host.store.entry(req.session)
    if (e && e.epoch >= req.epoch && e.owner !== from) return no(`epoch ${e.epoch} belongs to ${e.owner}`, e.epoch)
    // The requester may name an owner this node knows was replaced (its registry is behind): the owner
    // this node's registry names must be past its lease too.
    const currentLapsesIn = e && e.owner !== req.owner && e.owner !== from && e.owner !== this.host.id ? this.#leaseLeft(e.owner) : 0
    if (e && currentLapsesIn > 0) return no(`its owner is ${e.owner} (epoch ${e.epoch}) here, heard ${Math.round(this.cluster.silentMs(e.owner))} ms ago`, e.epoch, Math.min(currentLapsesIn, 60_000))
    const p = this.#promised.get(req.session)
    // An epoch is voted for once, ever (a lapsed vote still names its epoch: the next request asks above it).
    if (p && (p.epoch > req.epoch || (p.epoch === req.epoch && p.to !== from))) return no(`epoch ${p.epoch} was granted to ${p.to}`, p.epoch)
    // A vote for an earlier epoch to another node still stands: that node's round may yet adopt it, and
    // a newer epoch granted now would let two nodes run the session at once until one hears of the other
    // (the simulator found this, seed 9244 after the SDK's faster liveness check). It stops standing when
    // its round takes it back, when it lapses, or once that node can no longer act (its lease is over)
    // and its round can no longer adopt (a round adopts within ADOPT_WITHIN_MS of its start, which
    // came before this vote): a node seen down may still be in the middle of its round.
    const age = p ? this.host.clock.now() - p.at : 0
    // Adopted, it is the owner the registry names, and the owner's own lease protects it from here.
    const adopted = p !== undefined && e !== undefined && e.owner === p.to && e.epoch >= p.epoch
    const standsFor = p && p.to !== from && !adopted ? PROMISE_MS - age : 0
    const mayAdopt = age < ADOPT_WITHIN_MS + ADOPT_MARGIN_MS || p?.to === this.host.id || this.#leaseLeft(p?.to ?? "") > 0
    if (p && standsFor > 0 && mayAdopt) return no(`epoch ${p.epoch} was granted to ${p.to}, whose round may still adopt it`, p.epoch, Math.min(standsFor, this.cluster.failureMs / 3))
    if (copy && copy.epoch >= req.epoch) return no(`a copy of epoch ${copy.epoch} is here`, copy.epoch)
    this.#promised.set(req.session, { epoch: req.epoch, to: from, at: this.host.clock.now() })
    return { ok: true, copy }
  }

  /**
   * How long a member may still act on its lease from this node, ms (0: it cannot): down here and past the
   * lease it announced, or silent past the failure timeout and its rhythm. One that said goodbye (or that a
   * majority dropped) acknowledges nothing more.
   */
  #leaseLeft(id: string): number {
    const m = this.cluster.member(id)
    if (m !== undefined && !m.up && !m.voter) return 0
    return Math.max(0, Math.ceil(this.cluster.lapsesInMs(id)))
  }

  /** Answers a peer's request for this node's copy (it was the newest). */
  copy(req: CopyRequest): Copy | null {
    return this.localCopy(req.session) ?? null
  }

  /**
   * Requester side: a majority's votes for the next epoch, then the newest
   * copy, then adopt. False (and nothing changed) when the votes or the copy
   * are not there: the sweep tries again.
   */
  async run(session: string, owner: string, via: string): Promise<TakeoverResult> {
    const voted: { epoch: number; by: string[] } = { epoch: 0, by: [] }
    const out = await this.#run(session, owner, via, voted)
    // A failed round takes its votes back: they would hold the owner's replicas back for PROMISE_MS
    // (seen: a minority's own failed rounds stalled a live owner's acks for 9 s after the heal).
    if (!out.ok && voted.by.length) this.#retract(session, voted.epoch, voted.by)
    return out
  }

  #retract(session: string, epoch: number, by: string[]): void {
    for (const id of by)
      if (id === this.host.id) this.retracted(id, { session, epoch })
      else this.cluster.send(id, "grant-retract", { session, epoch })
  }

  /** Voter side: the requester gave up the epoch without adopting; the vote no longer holds anything back. */
  retracted(from: string, msg: RetractMessage): void {
    const p = this.#promised.get(msg.session)
    if (p && p.to === from && p.epoch === msg.epoch) p.at = 0
  }

  async #run(session: string, owner: string, via: string, voted: { epoch: number; by: string[] }): Promise<TakeoverResult> {
    const me = this.host.id
    const started = this.host.clock.now()
    const e = this.host.store.entry(session)
    const mine = this.localCopy(session)
    const epoch = Math.max(e?.epoch ?? 0, mine?.epoch ?? 0, this.#promised.get(session)?.epoch ?? 0, this.#seen.get(session) ?? 0) + 1
    const req: GrantRequest = { session, epoch, owner }
    const own = this.grant(me, req)
    if (!own.ok) return this.#refused(session, own.epoch, `this node: ${own.why}`)
    voted.epoch = epoch
    voted.by.push(me)
    const { voters, up } = this.cluster.quorum()
    const peers = up.filter((id) => id !== me)
    const answers = await Promise.all(
      peers.map(async (id) => {
        try {
          return { id, a: await this.cluster.request(id, "grant", req, Math.max(1_000, this.cluster.failureMs / 2)) }
        } catch {
          return { id, a: undefined }
        }
      }),
    )
    const granted = [me, ...answers.filter((x) => x.a?.ok).map((x) => x.id)]
    // A vote whose answer was lost (a timeout, a link cut) still stands on its voter: every peer asked is
    // told if the round fails (retracted() checks the requester and the epoch, so the others ignore it).
    voted.by.push(...peers)
    const refusals = answers.filter((x) => x.a && !x.a.ok)
    // No copy anywhere: every voter that could hold one answered without it, and the owner and the
    // rest died with theirs (down, their address refusing, no data dir). Decided before the majority:
    // with half the cluster dead there is none, and the players of such a session would wait forever.
    const answeredNow = new Set([me, ...answers.filter((x) => x.a).map((x) => x.id)])
    if (!mine && answers.every((x) => !x.a?.copy) && this.cluster.copiesGone(owner) && voters.every((v) => answeredNow.has(v) || this.cluster.copiesGone(v)))
      return { ok: false, why: `no copy of it is left: ${owner} and every member that did not answer died without a data dir, and no other member holds one`, lost: true }
    for (const r of refusals) if (typeof r.a?.epoch === "number") this.#seen.set(session, Math.max(this.#seen.get(session) ?? 0, r.a.epoch))
    // Someone runs it, or holds it, at this epoch or later (a handoff's epoch is not voted): not ours.
    const taken = refusals.find((r) => typeof r.a?.epoch === "number" && r.a.epoch >= epoch)
    if (taken) return { ok: false, why: `epoch ${taken.a?.epoch} is in use (${taken.id}: ${taken.a?.why})` }
    if (!isMajority(granted, voters)) {
      // Voters that will see the owner's lease over soon said when: the next round is then, not at a backoff.
      const waits = refusals.map((r) => r.a?.waitMs).filter((w) => w !== undefined)
      const why = `no majority: ${granted.length} of ${voters.length} voted (${refusals.map((r) => `${r.id}: ${r.a?.why}`).join("; ") || "others silent"})`
      return { ok: false, why, retryInMs: waits.length ? Math.max(...waits) : undefined }
    }
    // The newest copy among every answer, votes or refusals.
    const copies: ({ id: string } & CopyVersion)[] = mine ? [{ id: me, epoch: mine.epoch, rev: mine.record.rev, streamed: mine.streamed === true }] : []
    for (const { id, a } of answers) {
      const c = a?.copy
      if (c) copies.push({ id, epoch: c.epoch, rev: c.rev, streamed: c.streamed })
    }
    const best = newestCopy(copies)
    const lastEpoch = e?.epoch ?? 0
    if (!best) return { ok: false, why: "no member that answered holds a copy of the session" }
    // The owner's stream reaches its replicas before any ack; a document lags it by a checkpoint. With no
    // streamed copy of the last epoch among the answers, a replica holding the acknowledged actions may be
    // cut off: wait for it, unless every member but the owner answered (then no one has more).
    const answered = new Set([me, ...answers.filter((x) => x.a).map((x) => x.id)])
    const everyone = voters.every((v) => v === owner || answered.has(v))
    if (!copies.some((c) => c.streamed && c.epoch >= lastEpoch) && !everyone)
      return { ok: false, why: `no streamed copy of epoch ${lastEpoch} among the answers, and ${voters.filter((v) => v !== owner && !answered.has(v)).join(", ")} did not answer` }
    let copy: Copy | undefined | null = best.id === me ? mine : undefined
    if (!copy) {
      try {
        copy = await this.cluster.request(best.id, "copy", { session }, 5_000)
      } catch (error) {
        return { ok: false, why: `the newest copy (on ${best.id}) could not be fetched: ${(error as Error).message}` }
      }
    }
    if (!copy || copy.record.id !== session) return { ok: false, why: `the newest copy (on ${best.id}) is gone` }
    if (this.host.epochOf(session) !== undefined) return { ok: false, why: "it runs here already" }
    const vote = this.#promised.get(session)
    if (vote?.to !== me || vote.epoch !== epoch) return { ok: false, why: `this node voted for epoch ${vote?.epoch} of ${vote?.to} meanwhile` }
    // The votes hold the old owner's replicas back only for PROMISE_MS, and other rounds back for at least
    // ADOPT_WITHIN_MS: adopt inside it, or not at all.
    if (this.host.clock.now() - started > ADOPT_WITHIN_MS) return { ok: false, why: `the votes are ${this.host.clock.now() - started} ms old` }
    try {
      this.host.adopt(copy.record, epoch, via)
    } catch (error) {
      return { ok: false, why: `adopting the copy failed: ${(error as Error).message}` }
    }
    return { ok: true }
  }

  #refused(session: string, epoch: number | undefined, why: string): TakeoverResult {
    if (epoch !== undefined) this.#seen.set(session, Math.max(this.#seen.get(session) ?? 0, epoch))
    return { ok: false, why }
  }

  /** Drops what is no longer needed: promises the registry has moved past, sessions gone. */
  prune(): void {
    const now = this.host.clock.now()
    for (const [id, p] of this.#promised) {
      const e = this.host.store.entry(id)
      if (!e || now - p.at > 4 * PROMISE_MS) this.#promised.delete(id)
    }
    for (const id of this.#seen.keys()) if (!this.host.store.entry(id)) this.#seen.delete(id)
  }
}
