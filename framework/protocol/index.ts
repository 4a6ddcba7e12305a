/** The player protocol: message shapes, codes, and the JSON delta format. Pure: runs in browsers too. */
export * from "./messages.ts"
export { asPublic, type OpenSession, type SessionSummary } from "./sessions.ts"
export type { PlayerLink } from "./player-link.ts"
export { BatonError, clientError, newErrorId, type FailureSink } from "./errors.ts"
export { diff, applyPatch, type PatchOp, type Path } from "./patch.ts"
export { parseClientFrame, checkClientMessage, type Parsed as ParsedClientMessage } from "./client-frames.ts"
/** What a node tells those watching it (timeline, dev cluster, tests): typed events, never log text. */
export {
  errorText,
  type NodeEvent,
  type NodeEventBody,
  type EventOf,
  type EventStamp,
  type LifeEvent,
  type MemberEvent,
  type RefusalEvent,
  type MoveEvent,
  type PlayEvent,
  type FailureEvent,
  type DataDirDamage,
  type MemberStatus,
  type HandlerSite,
} from "./events.ts"
