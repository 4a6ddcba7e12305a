import type { HTMLBundle, Server } from "bun"
import type { AnyGame } from "../game/index.ts"
import { BatonNode, type ClusterConfig, createLogger, type LogFormat, type NodeConfig } from "../node/index.ts"
import { type Authenticate, tokenAuthenticate } from "./player-auth.ts"
import type { PlayerLimits } from "./players.ts"
import { serve } from "./serve.ts"
import type { SocketData } from "./serve.ts"

export interface StartNodeOptions extends Omit<NodeConfig, "games" | "log" | "cluster" | "clustered"> {
  games: readonly AnyGame[]
  pages?: Record<string, HTMLBundle>
  port?: number
  hostname?: string
  log?: LogFormat
  development?: boolean
  /** Stop on SIGTERM / SIGINT and exit (default true). */
  handleSignals?: boolean
  /** How long a stopping node may take to hand its sessions over, ms (default 25,000). */
  graceMs?: number
  /** Who a player connection is; see player-auth.ts. `playerSecret` turns on the built-in signed tokens. */
  authenticate?: Authenticate
  playerSecret?: string
  limits?: Partial<PlayerLimits>
  /** Bearer token for /admin endpoints (POST /admin/drain); without it they are off. */
  adminToken?: string
  /** Join a cluster once listening; `url` defaults to http://HOST:PORT as bound. */
  cluster?: Omit<ClusterConfig, "url"> & { url?: string }
}

export interface RunningNode {
  node: BatonNode
  server: Server<SocketData>
  url: string
  stop(): Promise<void>
}

/** Starts a node and serves it; on SIGTERM it writes every session out, tells players to reconnect, and exits. */
export async function startNode(opts: StartNodeOptions): Promise<RunningNode> {
  const { games, pages, port, hostname, log, development, handleSignals = true, cluster, graceMs: _grace, adminToken, authenticate, playerSecret, limits, ...config } = opts
  let node: BatonNode | undefined
  const logger = createLogger({ get node() { return node?.id } }, log ?? "json")
  node = await BatonNode.start({ ...config, games, log: logger, clustered: !!cluster })
  const auth = authenticate ?? (playerSecret ? tokenAuthenticate(playerSecret) : undefined)
  if (!auth && !development && process.env.BATON_DEV !== "1") logger.warn("players are not authenticated: ids are self-declared (set BATON_PLAYER_SECRET or an authenticate hook)")
  const server = serve(node, {
    port,
    hostname,
    pages,
    development,
    authenticate: auth,
    limits,
    admin: adminToken ? { token: adminToken, drain: () => void running.stop().then(() => handleSignals && process.exit(0)) } : undefined,
  })
  const shown = server.hostname === "0.0.0.0" ? "localhost" : server.hostname
  const url = `http://${shown}:${server.port}`
  if (cluster) node.joinCluster({ ...cluster, url: cluster.url ?? url })
  // Bun bundles an HTML page on its first request and only then serves its chunks; behind a load
  // balancer the chunk request may reach a node that never served the page. Warm every page here.
  const local = `http://${server.hostname === "0.0.0.0" ? "127.0.0.1" : server.hostname}:${server.port}`
  await Promise.all(["/dashboard", ...Object.keys(pages ?? {})].map((path) => fetch(local + path).then((r) => r.arrayBuffer()).catch(() => undefined)))
  let stopping: Promise<void> | undefined
  const running: RunningNode = {
    node,
    server,
    url,
    stop: () => {
      stopping ??= (async () => {
        const { sessions, ms, drain } = await running.node.stop("node stopping", opts.graceMs)
        server.stop(true)
        if (drain) logger.info(`moved ${drain.moved} of ${drain.sessions} sessions in ${drain.ms} ms`, { moved: drain.moved, failed: drain.failed.length, pauseP50: drain.pauseP50, pauseP99: drain.pauseP99 })
        logger.info("node stopped", { sessions, ms: Math.round(ms) })
      })()
      return stopping
    },
  }
  // A stray rejected promise (a peer vanished mid-request, say) is logged; it must not take every
  // session on this node down with it.
  process.on("unhandledRejection", (error) => logger.error("unhandled rejection", { error }))
  if (handleSignals)
    for (const signal of ["SIGTERM", "SIGINT"] as const)
      process.on(signal, () => {
        logger.info(`${signal}: stopping`, { sessions: running.node.sessionCount })
        running.stop().then(
          () => process.exit(0),
          (error) => {
            logger.error("stop failed", { error })
            process.exit(1)
          },
        )
      })
  const durability = node.durability()
  logger.info("node listening", {
    url,
    games: games.map((g) => g.name),
    dataDir: config.dataDir ?? null,
    cluster: !!cluster,
    version: cluster?.version ?? null,
    ...(durability.durable ? {} : { durable: false, reason: durability.reason }),
  })
  return running
}

/** An app: its games and the pages that play them. `baton start` / `baton dev` serve its default export. */
export interface App {
  games: readonly AnyGame[]
  pages?: Record<string, HTMLBundle>
  /** Who a player connection is (your own auth); the node refuses connections it returns null for. */
  authenticate?: Authenticate
}

export function defineApp(app: App): App {
  return app
}
