import type { Cluster } from "../cluster/index.ts"
import type { SessionRecord } from "../game/index.ts"
import type { Logger } from "../log/index.ts"
import { applyPatch, diff, type PatchOp } from "../protocol/index.ts"
import type { HostedSession } from "./hosted.ts"

/** Owner → replica: the record's changes since `base` (or the whole record), at `rev`. */
export type ReplicationMessage =
  | { t: "rep"; session: string; epoch: number; base: number | null; rev: number; ops?: PatchOp[]; full?: SessionRecord }
  | { t: "rep-ack"; session: string; rev: number }
  | { t: "rep-nack"; session: string }
  /** The sender is not the owner any more: a newer epoch runs the session. */
  | { t: "rep-fenced"; session: string; epoch: number }


/**
 * "replicated" durability: after each flush the owner sends the record's
 * changes to the session's replicas over the control link (not the
 * throttled automerge sync), and a player's ack goes out once one replica
 * has confirmed the revision. Replicas keep the newest record as a shadow
 * that a failover takes over from.
 */
export class Replicator {
  /** Per session, per replica: the record that replica has (ops are computed against it). */
  #sent = new Map<string, Map<string, SessionRecord>>()
  #shadows = new Map<string, { epoch: number; record: SessionRecord }>()
  #awaiting = new Map<string, HostedSession>()
  /** Highest revision a replica confirmed, per session. */
  #confirmed = new Map<string, number>()
  /** When each session last sent something not yet confirmed. */
  #since = new Map<string, number>()
  #watchdog: ReturnType<typeof setInterval>

  constructor(
    readonly cluster: Cluster,
    readonly selfId: string,
    readonly replicasOf: (session: string) => string[],
    readonly log: Logger,
    /** The epoch of the session if it runs here (a node that took it over must refuse its old owner). */
    readonly hostedEpoch: (session: string) => number | undefined,
    /** Told by a replica that a newer epoch owns the session: stop running it now. */
    readonly onFenced: (session: string, epoch: number) => void,
  ) {
    // A replication message can be lost (a link replaced, a peer restarting): acks must not wait
    // forever behind it. Whatever is unconfirmed after a while is sent again, whole.
    this.#watchdog = setInterval(() => {
      const now = Date.now()
      for (const [id, h] of this.#awaiting) {
        const since = this.#since.get(id)
        if (since === undefined || now - since < 300) continue
        this.#sent.delete(id)
        if (!this.replicate(h)) h.releaseAcks(Number.POSITIVE_INFINITY)
      }
    }, 100)
  }

  stop(): void {
    clearInterval(this.#watchdog)
  }

  /** Owner side, after a flush. Returns false when there is no replica to wait for (acks go at once). */
  replicate(h: HostedSession): boolean {
    const peers = this.replicasOf(h.id).filter((id) => id !== this.selfId && this.cluster.member(id)?.up)
    if (peers.length === 0) return false
    const rec = h.session.record
    let sent = this.#sent.get(h.id)
    if (!sent) this.#sent.set(h.id, (sent = new Map()))
    let sentNow = false
    for (const peer of peers) {
      const base = sent.get(peer)
      if (base?.rev === rec.rev) continue
      const msg: ReplicationMessage = base
        ? { t: "rep", session: h.id, epoch: h.epoch, base: base.rev, rev: rec.rev, ops: diff(base, rec) }
        : { t: "rep", session: h.id, epoch: h.epoch, base: null, rev: rec.rev, full: rec }
      if (this.cluster.send(peer, msg)) {
        sent.set(peer, rec)
        sentNow = true
      } else sent.delete(peer)
    }
    this.#awaiting.set(h.id, h)
    if (sentNow && !this.#since.has(h.id)) this.#since.set(h.id, Date.now())
    // Acks of actions that changed nothing (a resend answered from the ledger) need no new confirmation.
    const confirmed = this.#confirmed.get(h.id)
    if (confirmed !== undefined) h.releaseAcks(confirmed)
    if (confirmed !== undefined && confirmed >= rec.rev) this.#since.delete(h.id)
    return true
  }

  /** The replica sets changed (a node left): send again, or let the acks go when no replica is left. */
  resync(): void {
    for (const h of this.#awaiting.values()) if (!this.replicate(h)) h.releaseAcks(Number.POSITIVE_INFINITY)
  }

  forget(session: string): void {
    this.#sent.delete(session)
    this.#awaiting.delete(session)
    this.#confirmed.delete(session)
    this.#since.delete(session)
  }

  /** The newest record a replica holds for a session (failover prefers it when it is newer). */
  shadow(session: string): { epoch: number; record: SessionRecord } | undefined {
    return this.#shadows.get(session)
  }

  dropShadow(session: string): void {
    this.#shadows.delete(session)
  }

  onMessage(from: string, msg: ReplicationMessage): void {
    switch (msg.t) {
      case "rep": {
        const cur = this.#shadows.get(msg.session)
        const newer = Math.max(this.hostedEpoch(msg.session) ?? 0, cur?.epoch ?? 0)
        if (newer > msg.epoch) {
          // A stale owner (it was cut off and the session moved on): never confirm its writes.
          this.cluster.send(from, { t: "rep-fenced", session: msg.session, epoch: newer } satisfies ReplicationMessage)
          return
        }
        let record: SessionRecord | undefined
        if (msg.full) record = msg.full
        else if (cur && cur.record.rev === msg.base && msg.ops) record = applyPatch(cur.record, msg.ops)
        if (!record) {
          this.cluster.send(from, { t: "rep-nack", session: msg.session } satisfies ReplicationMessage)
          return
        }
        this.#shadows.set(msg.session, { epoch: msg.epoch, record })
        this.cluster.send(from, { t: "rep-ack", session: msg.session, rev: msg.rev } satisfies ReplicationMessage)
        return
      }
      case "rep-ack": {
        const h = this.#awaiting.get(msg.session)
        this.#confirmed.set(msg.session, Math.max(this.#confirmed.get(msg.session) ?? 0, msg.rev))
        h?.releaseAcks(msg.rev)
        if (h && msg.rev >= h.session.record.rev) this.#since.delete(msg.session)
        return
      }
      case "rep-fenced":
        this.onFenced(msg.session, msg.epoch)
        return
      case "rep-nack": {
        // That replica lost the thread (it restarted, or just joined the set): send it the whole record.
        this.#sent.get(msg.session)?.delete(from)
        const h = this.#awaiting.get(msg.session)
        if (h) this.replicate(h)
        return
      }
    }
  }
}
