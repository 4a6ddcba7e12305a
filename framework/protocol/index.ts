/** The player protocol: message shapes, codes, and the JSON delta format. Pure: runs in browsers too. */
export * from "./messages.ts"
export { asPublic, type OpenSession, type SessionSummary } from "./sessions.ts"
export type { PlayerLink } from "./player-link.ts"
export { BatonError, clientError, newErrorId } from "./errors.ts"
export { diff, applyPatch, type PatchOp, type Path } from "./patch.ts"
export { parseClientFrame, checkClientMessage, type Parsed as ParsedClientMessage } from "./client-frames.ts"
