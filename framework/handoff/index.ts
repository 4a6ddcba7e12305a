/** Sessions outlive their process: drain and handoff, failover from replicas, fencing by epoch. */
export { Handoff, type HandoffHost, type HandoffRequest, type ClaimedRequest, type HostingRequest, type MoveResult, type DrainReport } from "./handoff.ts"
export { Takeover, type GrantRequest, type GrantAnswer, type CopyRequest, type RetractMessage } from "./takeover.ts"
