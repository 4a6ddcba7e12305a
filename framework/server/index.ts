/** batonjs/server: run game modules on a node. `startNode` is the one call an app needs. */
export { serve, serveAdmin, type ServeOptions } from "./serve.ts"
export { sameSecret, type OperatorAccess } from "./access.ts"
export { createGate, type AuthorizeCreate, type CreateGate } from "./create-gate.ts"
export { httpApi, type HttpOptions } from "./http.ts"
export { startNode, defineApp, type App, type StartNodeOptions, type RunningNode } from "./start.ts"
export { BatonNode, BatonError, createLogger, type NodeConfig, type SessionSummary, type Logger, type NodeEvent, type EventOf } from "../node/index.ts"
export { signPlayerToken, verifyPlayerToken, tokenAuthenticate, type Authenticate } from "./player-auth.ts"
