import type { HTMLBundle, Server } from "bun"
import type { BatonNode } from "../node/index.ts"
import { httpApi } from "./http.ts"
import { type PlayerSocketData, playerSockets } from "./players.ts"

export interface ServeOptions {
  port?: number
  hostname?: string
  /** Browser pages (Bun HTML imports, bundled on the fly) by path, e.g. { "/": index }. */
  pages?: Record<string, HTMLBundle>
  /** Largest player frame accepted, bytes. */
  maxFrameBytes?: number
  development?: boolean
}

/** The node's one port: pages, the HTTP API and the player WebSocket at /ws. */
export function serve(node: BatonNode, opts: ServeOptions = {}): Server<PlayerSocketData> {
  const api = httpApi(node)
  return Bun.serve<PlayerSocketData>({
    port: opts.port ?? 3000,
    hostname: opts.hostname ?? "0.0.0.0",
    development: opts.development ?? false,
    routes: { ...opts.pages },
    fetch(req, server) {
      const url = new URL(req.url)
      if (url.pathname === "/ws") {
        if (server.upgrade(req, { data: { kind: "player", errors: 0 } })) return undefined
        return Response.json({ error: { code: "bad_request", message: "/ws needs a WebSocket upgrade" } }, { status: 426 })
      }
      return api.fetch(req, { server })
    },
    websocket: playerSockets(node, opts.maxFrameBytes),
  })
}
