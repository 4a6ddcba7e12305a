/** The player protocol: message shapes, codes, and the JSON delta format. Pure: runs in browsers too. */
export * from "./messages.ts"
export { asPublic, type OpenSession, type SessionSummary } from "./sessions.ts"
export type { PlayerLink } from "./player-link.ts"
export { BatonError, clientError, newErrorId, errorToWire, errorFromWire } from "./errors.ts"
export { diff, applyPatch, type PatchOp, type Path } from "./patch.ts"
