import type { SessionRecord } from "../game/index.ts"
import type { Logger } from "../log/index.ts"
import type { ClientMessage, NodeEventBody, NoticeCode, PlayerLink } from "../protocol/index.ts"
import type { Store } from "../store/index.ts"
import type { Clock } from "./clock.ts"

/**
 * The node's internal port: everything the cluster does to the node that
 * runs sessions goes through here (the node implements it; the cluster
 * never imports the node, and apps never see this interface).
 */
export interface NodePort {
  readonly id: string
  /** For people: what happened, in words. */
  readonly log: Logger
  /** For programs: raises one of the node's typed events (the node stamps it with its clock and id). */
  emit(event: NodeEventBody): void
  readonly store: Store
  /** The node's clock and timers (the simulator's in tests). */
  readonly clock: Clock
  readonly sessionCount: number

  // Sessions running here.
  hasSession(id: string): boolean
  /** The session if it runs here, as replication sees it. */
  hosted(id: string): ReplicatedSession | undefined
  hostedEpochs(): Map<string, number>
  /** The epoch of one session running here (hostedEpochs copies them all: too much per session of a drain). */
  epochOf(id: string): number | undefined

  // Moving sessions.
  freeze(id: string): SessionRecord | undefined
  thaw(id: string): void
  /** `to`: the node it moved to (its players are sent there; relays re-point there at once). */
  release(id: string, reason: string, to?: { id: string; url: string }): void
  /** `document`: the session document's bytes a handoff carried (the target continues that document). */
  adopt(record: SessionRecord, epoch: number, via: string, document?: { bytes: Uint8Array; url?: string }): unknown
  finalDocument(id: string): Uint8Array
  setDraining(): void
  recordMove(kind: "handoff" | "failover", ms: number): void

  // Acknowledgements.
  /** A "replicated" session has no live replica: its acks wait for the disk, or go out not durable. */
  secureLocally(h: ReplicatedSession): void
  /** Runs actions that waited for the lease, or tells their players why they wait. */
  leaseCheck(lease: boolean): void

  // Peers asking (relayed players, the operators' cluster-wide views).
  createLocal(game: string, options: unknown, id: string, seed?: string): unknown
  /** Resolves once a new session is held as its durability asks (a replica confirmed it). */
  createdDurably(id: string): Promise<void>
  sessions(): unknown[]
  timeline(since?: number): unknown[]
  session(id: string): unknown
  /** The inspector's view of a session running here (`copies`: or of this node's copy of its document), or (`export`) its history as a replay file. */
  inspect(id: string, req: { export?: boolean; tail?: number; copies?: boolean }): unknown
  publicSession(id: string): unknown
  openSessions(game: string): unknown[]
  /** A relayed player whose session now runs here: attach it locally. */
  rejoinLocally(link: PlayerLink, join: Extract<ClientMessage, { t: "join" }>, then: ClientMessage[]): void
  open(link: PlayerLink): void
  handle(link: PlayerLink, msg: ClientMessage): void
  close(link: PlayerLink): void
  /** A refused cluster link (counted, shown on the timeline). */
  refused(from: string | undefined, refusal: { code: string; reason: string; node?: string }, path: string): void
}

/** What moving sessions needs of the node. */
export type HandoffHost = Pick<
  NodePort,
  "id" | "log" | "emit" | "store" | "clock" | "hostedEpochs" | "epochOf" | "freeze" | "thaw" | "release" | "adopt" | "finalDocument" | "setDraining" | "recordMove"
>

/** A session running on this node, as replication sees it. */
export interface ReplicatedSession {
  readonly id: string
  readonly epoch: number
  readonly session: { readonly record: SessionRecord }
  /** "replicated" durability: acks wait for a replica's confirmation. */
  readonly holdAcks: boolean
  /** Acks held until a replica confirms their revision. */
  readonly heldAcks: number
  /** Since when the oldest of them waits. */
  readonly oldestHeldAt: number | undefined
  /** Actions waiting (a handoff, a lost lease). */
  readonly queued: readonly unknown[]
  releaseAcks(rev: number): void
  notice(code: NoticeCode, message: string): void
}
