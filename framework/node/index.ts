/** The node: runs sessions, checkpoints them into the store; I/O-free apart from the store. */
export { BatonNode, type NodeConfig, type NodeStatus } from "./node.ts"
export type { OpenSession, SessionSummary } from "../protocol/index.ts"
export { type PlayerLink, BatonError, clientError } from "../protocol/index.ts"
export { captureConsole, createLogger, type Logger, type LogFormat } from "../log/index.ts"
export type { ClusterConfig } from "../cluster/index.ts"
export { handlerFailures, type HandlerSite, type ReportFailure } from "./failures.ts"
export { LinkRefusals, sourceAddress } from "./link-refusals.ts"
