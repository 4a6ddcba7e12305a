import type { HTMLBundle, Server } from "bun"
import type { AnyGame } from "../game/index.ts"
import { BatonNode, captureConsole, type ClusterConfig, createLogger, handlerFailures, type LogFormat, type NodeConfig } from "../node/index.ts"
import { type Authenticate, tokenAuthenticate } from "./player-auth.ts"
import type { PlayerLimits } from "./players.ts"
import type { OperatorAccess } from "./access.ts"
import { type AuthorizeCreate, createGate } from "./create-gate.ts"
import { playgroundPlayers } from "./playground-players.ts"
import { serve, serveAdmin } from "./serve.ts"
import type { SocketData } from "./serve.ts"

/**
 * What `startNode` takes: the node's settings (NodeConfig) and its
 * listeners'. `baton start` fills them from the environment
 * (docs/operations.md).
 */
export interface StartNodeOptions extends Omit<NodeConfig, "games" | "log" | "cluster" | "clustered"> {
  /** The game modules this node runs. */
  games: readonly AnyGame[]
  /** Browser pages (Bun HTML imports) by path, e.g. { "/": index }; requested once at start, so they are bundled before players come. */
  pages?: Record<string, HTMLBundle>
  /** The players' port (default 3000; 0 takes a free one). */
  port?: number
  /** The address to bind (default 0.0.0.0: every interface). */
  hostname?: string
  /** "json" (default: one object a line, console output included), "pretty" (for a terminal) or "silent". */
  log?: LogFormat
  /**
   * Dev mode (also BATON_DEV=1): the operators' views open, no limit on
   * creating sessions, no warning about unauthenticated players; Bun's
   * development mode for pages.
   */
  development?: boolean
  /** Stop on SIGTERM / SIGINT and exit (default true). */
  handleSignals?: boolean
  /** How long a stopping node may take to hand its sessions over, ms (default 25,000). */
  graceMs?: number
  /** Who a player connection is; see player-auth.ts. `playerSecret` turns on the built-in signed tokens. */
  authenticate?: Authenticate
  /** Accept players by the built-in signed tokens (`signPlayerToken` with this secret) when there is no `authenticate`. */
  playerSecret?: string
  /** Per player connection: frames a second (default 200) and bytes queued for it before it is dropped (default 1 MiB). */
  limits?: Partial<PlayerLimits>
  /** Bearer token for /admin endpoints (POST /admin/drain) and, on the players' port, the operators' views. */
  adminToken?: string
  /** A second listener for operators (every view open, the dashboard); keep it off the players' Service. */
  adminPort?: number
  /** Where the operators' listener binds (default: HOST). 127.0.0.1 keeps it to the machine (kubectl port-forward still reaches it). */
  adminHost?: string
  /**
   * Who sees the operators' views on the players' port: "token" (holders of
   * the admin token; the default) or "open" (anyone: dev mode is always open).
   */
  operatorViews?: OperatorAccess
  /** Who may create sessions (see create-gate.ts); default: authenticated players when players are authenticated, else anyone. */
  authorizeCreate?: AuthorizeCreate
  /** Sessions one client may create a minute (default 60; 0: no limit; none in dev mode). */
  createsPerMinute?: number
  /** Serve https/wss (PEM certificate and key), the admin listener too; the node's URL becomes https. */
  tls?: { cert: string; key: string }
  /** Trust X-Forwarded-For (last entry) for a request's source address. */
  trustProxy?: boolean
  /** Join a cluster once listening; `url` defaults to http://HOST:PORT as bound. */
  cluster?: Omit<ClusterConfig, "url"> & { url?: string }
  /**
   * Awaited before the process exits on a signal or a drain request (with
   * handleSignals): work that must not be cut off, such as events still on
   * their way to a parent process.
   */
  beforeExit?: () => Promise<void>
}

/** A node `startNode` started and serves. */
export interface RunningNode {
  /** The node: its sessions, metrics and cluster role. */
  node: BatonNode
  /** The Bun server on the players' port. */
  server: Server<SocketData>
  /** Where players reach it, e.g. http://localhost:3000 (https with `tls`). */
  url: string
  /** The operators' listener, when there is one. */
  adminUrl?: string
  /**
   * Stops the node as SIGTERM does: its sessions handed over (or written
   * out), players told to reconnect, then the listeners closed. Calling it
   * again returns the same promise.
   */
  stop(): Promise<void>
}

/** Starts a node and serves it; on SIGTERM it writes every session out, tells players to reconnect, and exits. */
export async function startNode(opts: StartNodeOptions): Promise<RunningNode> {
  const { games, pages, port, hostname, log, development, handleSignals = true, cluster, graceMs: _grace, adminToken, adminPort, adminHost, operatorViews, authorizeCreate, createsPerMinute, authenticate, playerSecret, limits, tls, trustProxy, beforeExit, ...config } = opts
  let node: BatonNode | undefined
  const logger = createLogger({ get node() { return node?.id } }, log ?? "json")
  // A JSON log is one object a line: what libraries print to the console becomes lines of it too.
  if ((log ?? "json") === "json") captureConsole(logger)
  node = await BatonNode.start({ ...config, games, log: logger, clustered: !!cluster })
  const auth = authenticate ?? (playerSecret ? tokenAuthenticate(playerSecret) : undefined)
  if (!auth && !development && process.env.BATON_DEV !== "1") logger.warn("players are not authenticated: ids are self-declared (set BATON_PLAYER_SECRET or an authenticate hook)")
  const dev = !!development || process.env.BATON_DEV === "1"
  // The playground's players are accepted besides the app's own (playground-players.ts), by a secret every node shares.
  const playground = playgroundPlayers(auth, playerSecret ?? cluster?.secret ?? adminToken)
  const exit = async (code: number) => {
    await beforeExit?.().catch(() => {})
    process.exit(code)
  }
  const admin = adminToken ? { token: adminToken, drain: () => void running.stop().then(() => handleSignals && exit(0)) } : undefined
  const server = serve(node, {
    port,
    hostname,
    pages,
    development,
    authenticate: playground.authenticate,
    limits,
    admin,
    operators: dev ? "open" : (operatorViews ?? "token"),
    dashboard: adminPort === undefined,
    // An app that knows who its players are lets only them create sessions, unless it says otherwise.
    create: createGate({ authorize: authorizeCreate ?? auth, perMinute: createsPerMinute ?? (dev ? 0 : 60) }),
    tls,
    trustProxy,
    playground: { players: playground.players },
  })
  const shown = server.hostname === "0.0.0.0" ? "localhost" : server.hostname
  const scheme = tls ? "https" : "http"
  const url = `${scheme}://${shown}:${server.port}`
  const adminServer =
    adminPort === undefined
      ? undefined
      : serveAdmin(node, { port: adminPort, hostname: adminHost ?? hostname, admin, development, tls, playground: { players: playground.players, playersUrl: cluster?.url ?? url } })
  if (cluster) node.joinCluster({ ...cluster, url: cluster.url ?? url })
  // Bun bundles an HTML page on its first request and only then serves its chunks; behind a load
  // balancer the chunk request may reach a node that never served the page. Warm every page here.
  const local = `${scheme}://${server.hostname === "0.0.0.0" ? "127.0.0.1" : server.hostname}:${server.port}`
  const adminUrl = adminServer && `${scheme}://${adminServer.hostname === "0.0.0.0" ? "127.0.0.1" : adminServer.hostname}:${adminServer.port}`
  // Over TLS the certificate need not name 127.0.0.1: this request is to ourselves, so it need not check.
  const warm = [...["/dashboard", "/playground"].map((path) => (adminUrl ?? local) + path), ...Object.keys(pages ?? {}).map((path) => local + path)]
  await Promise.all(warm.map((u) => fetch(u, tls ? { tls: { rejectUnauthorized: false } } : {}).then((r) => r.arrayBuffer()).catch(() => undefined)))
  let stopping: Promise<void> | undefined
  const running: RunningNode = {
    node,
    server,
    url,
    adminUrl,
    stop: () => {
      stopping ??= (async () => {
        const { sessions, ms, drain } = await running.node.stop("node stopping", opts.graceMs)
        server.stop(true)
        adminServer?.stop(true)
        if (drain) logger.info(`moved ${drain.moved} of ${drain.sessions} sessions in ${drain.ms} ms`, { moved: drain.moved, failed: drain.failed.length, pauseP50: drain.pauseP50, pauseP99: drain.pauseP99 })
        logger.info("node stopped", { sessions, ms: Math.round(ms) })
      })()
      return stopping
    },
  }
  // A stray rejected promise (a peer vanished mid-request, say) is logged; it must not take every
  // session on this node down with it.
  process.on("unhandledRejection", (error) => handlerFailures(running.node)("unhandled-rejection", error))
  // The last line: every handler and flush catches its own failures, but a timer of ours or of a library
  // that throws must not take every session of the node with it. Logged with an id and counted.
  process.on("uncaughtException", (error) => handlerFailures(running.node)("uncaught", error))
  if (handleSignals)
    for (const signal of ["SIGTERM", "SIGINT"] as const)
      process.on(signal, () => {
        logger.info(`${signal}: stopping`, { sessions: running.node.sessionCount })
        running.stop().then(
          () => exit(0),
          (error) => {
            logger.error("stop failed", { error })
            return exit(1)
          },
        )
      })
  if (!dev && !adminServer && !adminToken && operatorViews !== "open")
    logger.warn("the operators' views (/sessions, /cluster, /metrics, /dashboard) are off: set BATON_ADMIN_PORT or BATON_ADMIN_TOKEN")
  const durability = node.durability()
  const listening = {
    url,
    adminUrl: adminUrl ?? null,
    games: games.map((g) => g.name),
    dataDir: config.dataDir ?? null,
    cluster: !!cluster,
    version: cluster?.version ?? null,
  }
  logger.info("node listening", { ...listening, ...(durability.durable ? {} : { durable: false, reason: durability.reason }) })
  node.emit({ t: "listening", ...listening, durable: durability.durable, ...(durability.reason ? { reason: durability.reason } : {}) })
  return running
}

/** An app: its games and the pages that play them. `baton start` / `baton dev` serve its default export. */
export interface App {
  /** The game modules the app serves. */
  games: readonly AnyGame[]
  /** Browser pages (Bun HTML imports) by path, e.g. { "/": index }. */
  pages?: Record<string, HTMLBundle>
  /** Who a player connection is (your own auth); the node refuses connections it returns null for. */
  authenticate?: Authenticate
  /** Who may create a session (POST /sessions); see create-gate.ts. */
  authorizeCreate?: AuthorizeCreate
}

/** Declares an app, typed; returns it as it is. The default export of the app's index.ts. */
export function defineApp(app: App): App {
  return app
}
