import type { HTMLBundle, Server } from "bun"
import type { LinkAuth } from "../cluster/index.ts"
import { type BatonNode, sourceAddress } from "../node/index.ts"
import { httpApi } from "./http.ts"
import dashboard from "./dashboard/index.html"
import type { Authenticate } from "./player-auth.ts"
import { DEFAULT_LIMITS, type PlayerLimits, type PlayerSocketData, playerSockets } from "./players.ts"

/** What a socket on our port is: a player, or a peer's control or sync link. */
export type SocketData = PlayerSocketData | { kind: "control" | "sync"; peer: string }

export interface ServeOptions {
  port?: number
  hostname?: string
  /** Browser pages (Bun HTML imports, bundled on the fly) by path, e.g. { "/": index }. */
  pages?: Record<string, HTMLBundle>
  /** Largest player frame accepted, bytes. */
  maxFrameBytes?: number
  development?: boolean
  /** Who a player connection is (see player-auth.ts); without it, player ids are self-declared. */
  authenticate?: Authenticate
  limits?: Partial<PlayerLimits>
  /** /admin endpoints: a bearer token and what drain does (stop the node). */
  admin?: { token: string; drain(): void }
  /** Serve https/wss with this certificate and key (PEM): players' connections and the cluster's links alike. */
  tls?: { cert: string; key: string }
  /** Take X-Forwarded-For's last entry as a request's source (only behind a proxy you run that sets it). */
  trustProxy?: boolean
}

/** The node's one port: pages, the HTTP API and the player WebSocket at /ws. */
export function serve(node: BatonNode, opts: ServeOptions = {}): Server<SocketData> {
  const api = httpApi(node, opts.admin)
  const players = playerSockets(node, opts.maxFrameBytes, {
    framesPerSecond: opts.limits?.framesPerSecond ?? DEFAULT_LIMITS.framesPerSecond,
    maxBufferedBytes: opts.limits?.maxBufferedBytes ?? DEFAULT_LIMITS.maxBufferedBytes,
  })
  return Bun.serve<SocketData>({
    port: opts.port ?? 3000,
    hostname: opts.hostname ?? "0.0.0.0",
    development: opts.development ?? false,
    tls: opts.tls,
    routes: { "/dashboard": dashboard, ...opts.pages },
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
          }
          if (!player) refused = "the connection's credentials were refused"
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
        if (server.upgrade(req, { data: { kind, peer: auth.node } })) return undefined
        return Response.json({ error: { code: "bad_request", message: `${url.pathname} needs a WebSocket upgrade` } }, { status: 426 })
      }
      return api.fetch(req, { server })
    },
    websocket: {
      // Sync messages can carry a whole document; a player frame over its own limit gets a readable error and 1009.
      maxPayloadLength: 16 * 1024 * 1024,
      idleTimeout: 120,
      sendPings: true,
      open(ws) {
        const d = ws.data
        if (d.kind === "player") players.open(ws as never)
        else if (d.kind === "control") node.role?.cluster.socket.open(ws as never)
        else node.role?.cluster.sync.socket.open(ws as never)
      },
      message(ws, message) {
        const d = ws.data
        if (d.kind === "player") players.message(ws as never, message)
        else if (d.kind === "control") node.role?.cluster.socket.message(ws as never, message)
        else node.role?.cluster.sync.socket.message(ws as never, message)
      },
      close(ws, code, reason) {
        const d = ws.data
        if (d.kind === "player") players.close(ws as never, code, reason)
        else if (d.kind === "control") node.role?.cluster.socket.close(ws as never)
        else node.role?.cluster.sync.socket.close(ws as never)
      },
      pong(ws) {
        if (ws.data.kind === "sync") node.role?.cluster.sync.socket.pong(ws as never)
      },
    },
  })
}
