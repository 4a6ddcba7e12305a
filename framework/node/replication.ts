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

  constructor(
    readonly cluster: Cluster,
    readonly selfId: string,
    readonly replicasOf: (session: string) => string[],
    readonly log: Logger,
  ) {}

  /** Owner side, after a flush. Returns false when there is no replica to wait for (acks go at once). */
  replicate(h: HostedSession): boolean {
    const peers = this.replicasOf(h.id).filter((id) => id !== this.selfId && this.cluster.member(id)?.up)
    if (peers.length === 0) return false
    const rec = h.session.record
    let sent = this.#sent.get(h.id)
    if (!sent) this.#sent.set(h.id, (sent = new Map()))
    for (const peer of peers) {
      const base = sent.get(peer)
      if (base?.rev === rec.rev) continue
      const msg: ReplicationMessage = base
        ? { t: "rep", session: h.id, epoch: h.epoch, base: base.rev, rev: rec.rev, ops: diff(base, rec) }
        : { t: "rep", session: h.id, epoch: h.epoch, base: null, rev: rec.rev, full: rec }
      this.cluster.send(peer, msg)
      sent.set(peer, rec)
    }
    this.#awaiting.set(h.id, h)
    return true
  }

  /** The replica sets changed (a node left): send again, or let the acks go when no replica is left. */
  resync(): void {
    for (const h of this.#awaiting.values()) if (!this.replicate(h)) h.releaseAcks(Number.POSITIVE_INFINITY)
  }

  forget(session: string): void {
    this.#sent.delete(session)
    this.#awaiting.delete(session)
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
        let record: SessionRecord | undefined
        if (msg.full) record = msg.full
        else if (cur && cur.record.rev === msg.base && msg.ops) record = applyPatch(cur.record, msg.ops)
        if (!record) {
          this.cluster.send(from, { t: "rep-nack", session: msg.session } satisfies ReplicationMessage)
          return
        }
        if (cur && cur.epoch > msg.epoch) return
        this.#shadows.set(msg.session, { epoch: msg.epoch, record })
        this.cluster.send(from, { t: "rep-ack", session: msg.session, rev: msg.rev } satisfies ReplicationMessage)
        return
      }
      case "rep-ack":
        this.#awaiting.get(msg.session)?.releaseAcks(msg.rev)
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
