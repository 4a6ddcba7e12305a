import type { Cluster } from "./cluster.ts"
import type { LedgerChange, Message, ReplicationItem } from "./protocol.ts"
import { newerCopy } from "../store/index.ts"
import { type ClientLedger, idProblem, LEDGER_RESULTS, type LedgerResult, type SessionRecord } from "../game/index.ts"
import { errorText, type FailureSink } from "../protocol/index.ts"
import { applyPatch, diff, type PatchOp } from "../protocol/index.ts"
import type { ReplicatedSession as HostedSession } from "./port.ts"

/** How often "local" durability streams changes to replicas, ms. */
const STREAM_MS = 20
/** Acks held this long get the session's players a notice saying why (the issue asks for within a second). */
const NOTICE_MS = 250
/** How often held acks are looked at: released when the lease is back, their players told why they wait, ms. */
const WATCH_MS = 100
/**
 * Changes a replica has not confirmed after this are sent again, whole, ms:
 * a replication message can be lost with a link (a replica restarting, a
 * link replaced), and acks must not wait forever behind it. Three watch
 * rounds: a confirmation is one round trip, a few ms on a LAN.
 */
const RESEND_AFTER_MS = 300

/**
 * Keeps replicas' copies fresh over the control link, without waiting for
 * the automerge checkpoints (rate-limited: an automerge change and its sync
 * cost about a millisecond of CPU across the nodes, a diff on the control
 * link a few microseconds). Replicas keep the newest record as a shadow that
 * a failover takes over from when it is newer than the document.
 *
 * "replicated" durability: after each flush the owner sends the changes at
 * once, and a player's ack goes out when one replica confirmed the revision.
 * "local": the changes of every session go out every STREAM_MS, one message
 * per peer, unacknowledged (a replica that missed one asks for the whole
 * record with a nack).
 */
export class Replicator {
  /** Per session, per replica: the record that replica has (ops are computed against it). */
  #sent = new Map<string, Map<string, SessionRecord>>()
  #shadows = new Map<string, { epoch: number; record: SessionRecord; at: number }>()
  #awaiting = new Map<string, HostedSession>()
  /** Highest revision a replica confirmed, per session. */
  #confirmed = new Map<string, number>()
  /** When each session last sent something not yet confirmed. */
  #since = new Map<string, number>()
  #watchdog: unknown
  /** "local" sessions with changes not streamed yet, and when the oldest was made. */
  #streaming = new Map<string, { h: HostedSession; since: number }>()
  #streamTimer: unknown

  constructor(
    readonly cluster: Cluster,
    readonly selfId: string,
    readonly replicasOf: (session: string) => string[],
    /** The node's log and events: a record that cannot be sent is a failure operators must see. */
    readonly sink: FailureSink,
    /** The epoch of the session if it runs here (a node that took it over must refuse its old owner). */
    readonly hostedEpoch: (session: string) => number | undefined,
    /** Told by a replica that a newer epoch owns the session: stop running it now. */
    readonly onFenced: (session: string, epoch: number) => void,
    /** The session if it runs here (a nack asks for its whole record again). */
    readonly hosted: (session: string) => HostedSession | undefined,
    /** A replica got changes that were `ms` old (the owner's clock at the change vs ours now). */
    readonly onLag: (ms: number) => void = () => {},
    /**
     * "replicated" durability with no live replica: a node alone by design secures the acks another
     * way (the disk) or lets them go and says so; a node of a cluster keeps them held (see ClusterRole).
     */
    readonly onNoReplica: (h: HostedSession) => void = (h) => h.releaseAcks(Number.POSITIVE_INFINITY),
    /**
     * Whether this node may acknowledge as an owner now (it holds a majority's lease: Cluster.leaseUntil).
     * A replica's confirmation is not enough on its own: the other side of a partition may be taking
     * the session over, and what it takes over from is what its majority holds.
     */
    readonly mayAcknowledge: () => boolean = () => true,
    /** The epoch this node voted for in a takeover of the session still under way, if any. */
    readonly promisedEpoch: (session: string) => number | undefined = () => undefined,
  ) {
    this.#watchdog = this.cluster.clock.setInterval(() => this.#watch(), WATCH_MS)
  }

  /** When each session with held acks started holding them (for the players' notice). */
  #heldSince = new Map<string, number>()

  /**
   * A replication message can be lost (a link replaced, a peer restarting): acks must not wait
   * forever behind it. Whatever is unconfirmed after a while is sent again, whole. Acks confirmed
   * while the lease had lapsed go out once it is back; players waiting long are told why.
   */
  #watch(): void {
    const now = this.cluster.clock.now()
    const lease = this.mayAcknowledge()
    for (const [id, h] of this.#awaiting) {
      const since = this.#since.get(id)
      if (since !== undefined && now - since >= RESEND_AFTER_MS) {
        this.#sent.delete(id)
        if (!this.replicate(h)) this.onNoReplica(h)
      } else if (lease) {
        const confirmed = this.#confirmed.get(id)
        if (confirmed !== undefined) h.releaseAcks(confirmed)
      }
      this.#tell(h, now, lease)
    }
  }

  #tell(h: HostedSession, now: number, lease: boolean): void {
    if (h.heldAcks === 0 && (lease || h.queued.length === 0)) {
      this.#heldSince.delete(h.id)
      return h.notice("resolved", "actions are answered again")
    }
    // Under steady play some ack is held at every look, each for a round trip: what counts is how long
    // the oldest has waited (players heard "no_replica" every few seconds at 80 actions a second).
    let since = h.oldestHeldAt
    if (since === undefined) {
      since = this.#heldSince.get(h.id)
      if (since === undefined) return void this.#heldSince.set(h.id, now)
    }
    if (now - since < NOTICE_MS) return lease ? h.notice("resolved", "actions are answered again") : undefined
    if (!lease) h.notice("no_quorum", "the node running this session cannot reach a majority of the cluster (a network partition?): actions wait, none is lost")
    else h.notice("no_replica", "no other node confirms this session's changes yet: actions wait until one does, none is lost")
  }

  stop(): void {
    this.cluster.clock.clearInterval(this.#watchdog)
    this.cluster.clock.clearTimeout(this.#streamTimer)
  }

  /** Owner side, "local" durability, after a flush that changed the session: streamed within STREAM_MS. */
  stream(h: HostedSession): void {
    if (!this.#streaming.has(h.id)) this.#streaming.set(h.id, { h, since: this.cluster.clock.now() })
    this.#streamTimer ??= this.cluster.clock.setTimeout(() => this.#sendStream(), STREAM_MS)
  }

  #sendStream(): void {
    this.#streamTimer = undefined
    const batches = new Map<string, ReplicationItem[]>()
    for (const { h, since } of this.#streaming.values()) {
      for (const peer of this.replicasOf(h.id)) {
        if (peer === this.selfId || !this.cluster.member(peer)?.up) continue
        const item = this.#itemFor(h, peer, since)
        if (!item) continue
        let batch = batches.get(peer)
        if (!batch) batches.set(peer, (batch = []))
        batch.push(item)
      }
    }
    this.#streaming.clear()
    for (const [peer, items] of batches) {
      let sent: ReplicationItem[]
      try {
        sent = this.cluster.send(peer, "rep-batch", { items }) ? items : []
      } catch {
        sent = this.#sendEach(peer, items)
      }
      for (const i of items) if (!sent.includes(i)) this.#sent.get(i.session)?.delete(peer)
    }
  }

  /**
   * A batch that could not be serialised (a game left a value JSON cannot carry in its state): the
   * sessions go one by one, so only the broken one is named and left out, not every session of the batch.
   */
  #sendEach(peer: string, items: ReplicationItem[]): ReplicationItem[] {
    const sent: ReplicationItem[] = []
    for (const item of items) {
      try {
        if (this.cluster.send(peer, "rep-batch", { items: [item] })) sent.push(item)
      } catch (error) {
        this.sink.log.error("session cannot be replicated: its record does not serialise", { session: item.session, error })
        this.sink.emit({ t: "replication-failed", session: item.session, error: errorText(error) })
      }
    }
    return sent
  }

  /** The changes `peer` lacks of a session (against what it was last sent), noted as sent. */
  #itemFor(h: HostedSession, peer: string, since: number): ReplicationItem | undefined {
    const rec = h.session.record
    let sent = this.#sent.get(h.id)
    if (!sent) this.#sent.set(h.id, (sent = new Map()))
    const base = sent.get(peer)
    if (base?.rev === rec.rev) return undefined
    sent.set(peer, rec)
    if (!base) return { session: h.id, epoch: h.epoch, base: null, rev: rec.rev, since, full: rec }
    return { session: h.id, epoch: h.epoch, base: base.rev, rev: rec.rev, since, ops: diffOutsideLedgers(base, rec), ledgers: ledgerChanges(base, rec) }
  }

  /** The members of a session's replica set other than this node that are up. */
  liveReplicas(session: string): string[] {
    return this.replicasOf(session).filter((id) => id !== this.selfId && this.cluster.member(id)?.up)
  }

  /** Owner side, "replicated" durability, after a flush. Returns false when there is no replica to wait for (see onNoReplica). */
  replicate(h: HostedSession): boolean {
    // Watched even with no replica to send to: held acks are released, or their players told, from here.
    this.#awaiting.set(h.id, h)
    const peers = this.liveReplicas(h.id)
    if (peers.length === 0) return false
    const rec = h.session.record
    const now = this.cluster.clock.now()
    let sentNow = false
    for (const peer of peers) {
      const item = this.#itemFor(h, peer, now)
      if (!item) continue
      if (this.cluster.send(peer, "rep", { ...item })) sentNow = true
      else this.#sent.get(h.id)?.delete(peer)
    }
    if (sentNow && !this.#since.has(h.id)) this.#since.set(h.id, now)
    // Acks of actions that changed nothing (a resend answered from the ledger) need no new confirmation.
    const confirmed = this.#confirmed.get(h.id)
    if (confirmed !== undefined && this.mayAcknowledge()) h.releaseAcks(confirmed)
    if (confirmed !== undefined && confirmed >= rec.rev) this.#since.delete(h.id)
    return true
  }

  /** The replica sets changed (a node left): send again, or hand the acks to onNoReplica when no replica is left. */
  resync(): void {
    for (const h of this.#awaiting.values()) if (!this.replicate(h)) this.onNoReplica(h)
  }

  forget(session: string): void {
    this.#sent.delete(session)
    this.#streaming.delete(session)
    this.#awaiting.delete(session)
    this.#confirmed.delete(session)
    this.#since.delete(session)
    this.#heldSince.delete(session)
  }

  /** The newest record a replica holds for a session (failover prefers it when it is newer). */
  shadow(session: string): { epoch: number; record: SessionRecord } | undefined {
    const s = this.#shadows.get(session)
    return s && { epoch: s.epoch, record: s.record }
  }

  /** Every shadow held here (a draining node hands them on). */
  shadows(): [string, { epoch: number; record: SessionRecord }][] {
    return [...this.#shadows].map(([id, s]) => [id, { epoch: s.epoch, record: s.record }])
  }

  /** A copy handed on by a leaving replica: kept when it is newer than ours. */
  takeCopy(session: string, epoch: number, record: SessionRecord): boolean {
    if (record?.id !== session || !Number.isSafeInteger(epoch) || !Number.isSafeInteger(record.rev)) return false
    if ((this.hostedEpoch(session) ?? 0) > epoch) return false
    const cur = this.#shadows.get(session)
    // Ours is as new or newer: the handed copy adds nothing (store/newest.ts).
    if (cur && !newerCopy({ epoch, rev: record.rev }, { epoch: cur.epoch, rev: cur.record.rev })) return true
    this.#shadows.set(session, { epoch, record, at: this.cluster.clock.now() })
    return true
  }

  dropShadow(session: string): void {
    this.#shadows.delete(session)
  }

  /** Forgets the shadows `keep` says no to (it is told how long ago each was last updated). */
  pruneShadows(keep: (session: string, idleMs: number) => boolean): void {
    const now = this.cluster.clock.now()
    for (const [session, s] of this.#shadows) if (!keep(session, now - s.at)) this.#shadows.delete(session)
  }

  /** Replica side: keeps the item's record as the shadow; false (and the owner told why) when it cannot. */
  #take(from: string, item: ReplicationItem): boolean {
    const cur = this.#shadows.get(item.session)
    const newer = Math.max(this.hostedEpoch(item.session) ?? 0, cur?.epoch ?? 0)
    if (newer > item.epoch) {
      // A stale owner (it was cut off and the session moved on): never confirm its writes.
      this.cluster.send(from, "rep-fenced", { session: item.session, epoch: newer })
      return false
    }
    let record: SessionRecord | undefined
    if (item.full) record = item.full
    else if (cur && cur.record.rev === item.base && item.ops) record = applyLedgers(applyPatch(cur.record, item.ops), item.ledgers)
    if (!record) {
      this.cluster.send(from, "rep-nack", { session: item.session })
      return false
    }
    this.#shadows.set(item.session, { epoch: item.epoch, record, at: this.cluster.clock.now() })
    this.onLag(this.cluster.clock.now() - item.since)
    return true
  }

  /**
   * Replica side. A draining replica keeps what it gets (it hands its copies on before it leaves) but
   * confirms nothing: an ack must rest on a copy that stays in the cluster. Nor does one that voted for
   * a newer epoch: the takeover may start from a copy without this change. The owner is not told to
   * stop (the takeover may fail, and the vote lapse): its acks just wait.
   */
  onRep(from: string, item: Message<"rep">): void {
    if (this.#take(from, item) && this.cluster.self.status !== "draining" && (this.promisedEpoch(item.session) ?? 0) <= item.epoch)
      this.cluster.send(from, "rep-ack", { session: item.session, rev: item.rev })
  }

  onBatch(from: string, msg: Message<"rep-batch">): void {
    for (const item of msg.items) this.#take(from, item)
  }

  /** Owner side: a replica holds `rev`. */
  onAck(_from: string, msg: Message<"rep-ack">): void {
    const h = this.#awaiting.get(msg.session)
    this.#confirmed.set(msg.session, Math.max(this.#confirmed.get(msg.session) ?? 0, msg.rev))
    if (this.mayAcknowledge()) h?.releaseAcks(msg.rev)
    if (h && msg.rev >= h.session.record.rev) this.#since.delete(msg.session)
  }

  /** Owner side: that replica lost the thread (it restarted, or just joined the set): send it the whole record. */
  onNack(from: string, msg: Message<"rep-nack">): void {
    this.#sent.get(msg.session)?.delete(from)
    const h = this.#awaiting.get(msg.session) ?? this.hosted(msg.session)
    if (h?.holdAcks) this.replicate(h)
    else if (h) this.stream(h)
  }
}

/**
 * Every action makes a new ledger whose window of answers is shifted by one,
 * so a plain diff rewrote every client's whole window (and a replica copied
 * it once per op): that was most of a replication's cost. The record is
 * diffed without its ledgers, and each changed ledger goes as its counters
 * plus the answers added since the base.
 */
function diffOutsideLedgers(base: SessionRecord, rec: SessionRecord): PatchOp[] {
  const same = rec.clients
  return diff({ ...base, clients: same }, { ...rec, clients: same })
}

function ledgerChanges(base: SessionRecord, rec: SessionRecord): Record<string, LedgerChange | null> | undefined {
  if (base.clients === rec.clients) return undefined
  const out: Record<string, LedgerChange | null> = {}
  for (const [id, l] of Object.entries(rec.clients)) {
    const old = base.clients[id]
    if (old === l) continue
    const from = old && old.player === l.player ? old.seq : 0
    out[id] = { player: l.player, seq: l.seq, at: l.at, add: l.results.slice(firstAbove(l.results, from)) }
  }
  for (const id of Object.keys(base.clients)) if (!Object.hasOwn(rec.clients, id)) out[id] = null
  return out
}

/**
 * The index of a ledger's first answer with an id above `id`. A ledger's answers are in id order
 * (each action's id is above the one before), so this looks from the end, where the new ones are,
 * instead of filtering the whole window for every change. Out of order (a peer's bug) it only cuts
 * at the wrong place in that one ledger.
 */
function firstAbove(results: readonly LedgerResult[], id: number): number {
  let i = results.length
  while (i > 0 && (results[i - 1] as LedgerResult)[0] > id) i--
  return i
}

function applyLedgers(record: SessionRecord, changes: Record<string, LedgerChange | null> | undefined): SessionRecord {
  if (!changes) return record
  const clients: Record<string, ClientLedger> = { ...record.clients }
  for (const [id, c] of Object.entries(changes)) {
    if (idProblem(id)) continue // a peer's frame: no key of it may reach a prototype
    if (c === null) {
      delete clients[id]
      continue
    }
    const old = clients[id]
    // What is added is newer than every answer kept (the base's seq bounds what the replica holds):
    // cut at the oldest added id, not a search of the added ones per kept answer (64 × the batch).
    let firstAdded = Number.POSITIVE_INFINITY
    for (const a of c.add) if (a[0] < firstAdded) firstAdded = a[0]
    const held = old && old.player === c.player ? old.results : []
    const cut = firstAbove(held, firstAdded - 1)
    const from = Math.max(0, cut + c.add.length - LEDGER_RESULTS)
    const results = held.slice(Math.min(from, cut), cut)
    for (let i = Math.max(0, from - cut); i < c.add.length; i++) results.push(c.add[i] as LedgerResult)
    clients[id] = { player: c.player, seq: c.seq, at: c.at, results }
  }
  return { ...record, clients }
}
