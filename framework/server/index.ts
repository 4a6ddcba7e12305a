/** baton/server: run game modules on a node. `startNode` is the one call an app needs. */
export { serve, type ServeOptions } from "./serve.ts"
export { httpApi } from "./http.ts"
export { startNode, defineApp, type App, type StartNodeOptions, type RunningNode } from "./start.ts"
export { BatonNode, BatonError, createLogger, type NodeConfig, type SessionSummary, type Logger } from "../node/index.ts"
export { signPlayerToken, verifyPlayerToken, tokenAuthenticate, type Authenticate } from "./player-auth.ts"
