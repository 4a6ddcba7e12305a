/** The player protocol: message shapes, codes, and the JSON delta format. Pure: runs in browsers too. */
export * from "./messages.ts"
export type { OpenSession, SessionSummary } from "./sessions.ts"
export { diff, applyPatch, type PatchOp, type Path } from "./patch.ts"
