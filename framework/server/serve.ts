import type { HTMLBundle, Server, ServerWebSocket } from "bun"
import { acceptedLink, type LinkAuth, type ServerLink } from "../cluster/index.ts"
import { idProblem } from "../game/index.ts"
import { type BatonNode, type HandlerSite, handlerFailures, sourceAddress } from "../node/index.ts"
import { CloseCode, errorText } from "../protocol/index.ts"
import type { OperatorAccess } from "./access.ts"
import type { CreateGate } from "./create-gate.ts"
import { httpApi } from "./http.ts"
import dashboard from "./dashboard/index.html"
import type { PlaygroundOptions } from "./playground-api.ts"
import playground from "./playground/index.html"
import type { Authenticate } from "./player-auth.ts"
import { DEFAULT_LIMITS, type PlayerLimits, type PlayerSocketData, playerSockets } from "./players.ts"

/** What a socket on our port is: a player, or a peer's control or sync link. */
export type SocketData = PlayerSocketData | { kind: "control" | "sync"; peer: string; from?: string; link?: ServerLink }

/** Options of `serve`; `startNode` fills them from its own. */
export interface ServeOptions {
  /** The port (default 3000; 0 takes a free one). */
  port?: number
  /** The address to bind (default 0.0.0.0: every interface). */
  hostname?: string
  /** Browser pages (Bun HTML imports, bundled on the fly) by path, e.g. { "/": index }. */
  pages?: Record<string, HTMLBundle>
  /** Largest player frame accepted, bytes (default 64 KiB). */
  maxFrameBytes?: number
  /** Bun.serve's development mode: contextual error pages, pages bundled for development (default false). */
  development?: boolean
  /** Who a player connection is (see player-auth.ts); without it, player ids are self-declared. */
  authenticate?: Authenticate
  /** Per player connection: frames a second (default 200) and bytes queued for it before it is dropped (default 1 MiB). */
  limits?: Partial<PlayerLimits>
  /** /admin endpoints: a bearer token and what drain does (stop the node). */
  admin?: { token: string; drain(): void }
  /** Who sees the operators' views on this port (default "token": only with the admin token). */
  operators?: OperatorAccess
  /** Serve /dashboard and /playground here (default true; false when an admin listener serves them). */
  dashboard?: boolean
  /** The playground's players (see playground-players.ts). */
  playground?: PlaygroundOptions
  /** Who may create sessions, and how many a minute. */
  create?: CreateGate
  /** Serve https/wss with this certificate and key (PEM): players' connections and the cluster's links alike. */
  tls?: { cert: string; key: string }
  /** Take X-Forwarded-For's last entry as a request's source (only behind a proxy you run that sets it). */
  trustProxy?: boolean
}

/** The node's one port: pages, the HTTP API and the player WebSocket at /ws. */
export function serve(node: BatonNode, opts: ServeOptions = {}): Server<SocketData> {
  const failed = handlerFailures(node)
  const api = httpApi(node, { admin: opts.admin, operators: opts.operators, create: opts.create, playground: opts.playground })
  const players = playerSockets(node, opts.maxFrameBytes, {
    framesPerSecond: opts.limits?.framesPerSecond ?? DEFAULT_LIMITS.framesPerSecond,
    maxBufferedBytes: opts.limits?.maxBufferedBytes ?? DEFAULT_LIMITS.maxBufferedBytes,
  })
  return Bun.serve<SocketData>({
    port: opts.port ?? 3000,
    hostname: opts.hostname ?? "0.0.0.0",
    development: opts.development ?? false,
    tls: opts.tls,
    routes: { ...(opts.dashboard === false ? {} : { "/dashboard": dashboard, "/playground": playground }), ...opts.pages },
    async fetch(req, server) {
      const url = new URL(req.url)
      if (url.pathname === "/ws") {
        let player: string | undefined
        let refused: string | undefined
        if (opts.authenticate) {
          try {
            player = (await opts.authenticate(req)) ?? undefined
          } catch (error) {
            node.log.error("authenticate threw", { error })
            node.emit({ t: "authenticate-failed", error: errorText(error) })
          }
          if (!player) refused = "the connection's credentials were refused"
          else if (idProblem(player)) {
            // The app's authenticate named an id no game can hold safely (see game/ids.ts).
            node.log.warn("authenticate returned an unusable player id", { problem: idProblem(player) })
            refused = `the authenticated player id ${idProblem(player)}`
            player = undefined
          }
        }
        // A refused connection is still upgraded so it can be told why with a close code its client acts on.
        if (server.upgrade(req, { data: { kind: "player", errors: 0, player, refused } })) return undefined
        return Response.json({ error: { code: "bad_request", message: "/ws needs a WebSocket upgrade" } }, { status: 426 })
      }
      if (url.pathname === "/cluster/control" || url.pathname === "/cluster/sync") {
        const kind = url.pathname === "/cluster/sync" ? "sync" : "control"
        const cluster = node.role?.cluster
        const auth: LinkAuth = cluster ? cluster.authenticate(url, kind) : { ok: false, code: "not-clustered", reason: "this node is not in a cluster (no cluster secret set)" }
        if (!auth.ok) {
          const from = sourceAddress(server.requestIP(req)?.address, req.headers.get("x-forwarded-for"), opts.trustProxy ?? false)
          node.linkRefusals.refused(from, auth, url.pathname)
          return Response.json({ error: { code: "unauthorized", message: `cluster link refused: ${auth.reason}` } }, { status: 401 })
        }
        const from = sourceAddress(server.requestIP(req)?.address, req.headers.get("x-forwarded-for"), opts.trustProxy ?? false)
        if (server.upgrade(req, { data: { kind, peer: auth.node, from } })) return undefined
        return Response.json({ error: { code: "bad_request", message: `${url.pathname} needs a WebSocket upgrade` } }, { status: 426 })
      }
      return api.fetch(req, { server })
    },
    // A throw out of fetch (ours, or a page's bundling) answers 500 with an error id; hono's own onError covers the API.
    error(error) {
      const { errorId } = failed("http", error)
      return Response.json({ error: { code: "internal", message: "internal error (logged on the node)", errorId } }, { status: 500 })
    },
    websocket: {
      // Sync messages can carry a whole document; a player frame over its own limit gets a readable error and 1009.
      maxPayloadLength: 16 * 1024 * 1024,
      idleTimeout: 120,
      sendPings: true,
      open(ws) {
        const d = ws.data
        guarded(ws, "open", () => {
          if (d.kind === "player") return players.open(ws as never)
          d.link = acceptedLink(ws, (error) => failed("link-message", error))
          const cluster = node.role?.cluster
          if (!cluster) return d.link.close(1011, "this node left the cluster")
          cluster.accept(d.kind, d.peer, d.link, d.from)
        })
      },
      message(ws, message) {
        const d = ws.data
        guarded(ws, "message", () => {
          if (d.kind === "player") players.message(ws as never, message)
          else d.link?.receive(typeof message === "string" ? message : new Uint8Array(message))
        })
      },
      close(ws, code, reason) {
        const d = ws.data
        guarded(ws, "close", () => {
          if (d.kind === "player") players.close(ws as never, code, reason)
          else d.link?.closed(code, reason)
        })
      },
      pong(ws) {
        guarded(ws, "pong", () => {
          if (ws.data.kind !== "player") ws.data.link?.ponged()
        })
      },
    },
  })

  /** Runs one handler: a throw closes this connection only (see node/failures.ts). */
  function guarded(ws: ServerWebSocket<SocketData>, event: "open" | "message" | "close" | "pong", run: () => void): void {
    try {
      run()
    } catch (error) {
      const player = ws.data.kind === "player"
      const site = `${player ? "player" : "link"}-${event}` as HandlerSite
      const { errorId } = failed(site, error)
      if (event === "close") return
      try {
        if (player) ws.send(JSON.stringify({ t: "error", code: "internal", message: "internal error (logged on the node)", errorId }))
        ws.close(CloseCode.internalError, `internal error ${errorId}`)
      } catch {
        // Already closed: nothing more to tell it.
      }
    }
  }
}

/**
 * The operators' listener (BATON_ADMIN_PORT): the same HTTP API with every
 * operator's view open, the dashboard and the playground (whose players
 * connect to `playground.playersUrl`); no player or cluster sockets.
 * Keep its port off the players' Service.
 */
export function serveAdmin(
  node: BatonNode,
  opts: { port: number; hostname?: string; admin?: { token: string; drain(): void }; development?: boolean; tls?: { cert: string; key: string }; playground?: PlaygroundOptions },
): Server<undefined> {
  const api = httpApi(node, { admin: opts.admin, operators: "open", playground: opts.playground })
  return Bun.serve({
    tls: opts.tls,
    port: opts.port,
    hostname: opts.hostname ?? "0.0.0.0",
    development: opts.development ?? false,
    routes: { "/dashboard": dashboard, "/playground": playground },
    fetch: (req, server) => api.fetch(req, { server }),
  })
}
