import type { HTMLBundle, Server, ServerWebSocket } from "bun"

/**
 * What a load balancer does in production, for the dev cluster: one port
 * that spreads HTTP requests and WebSocket connections over the nodes that
 * are ready, round robin.
 */
export interface FrontDoor {
  server: Server<Tunnel>
  url: string
  /** Serves these pages from now on (the app's entry changed its page map). */
  setPages(pages: Record<string, HTMLBundle>): void
  stop(): void
}

interface Tunnel {
  target: string
  path: string
  upstream?: WebSocket
  queued: (string | Uint8Array)[]
}

/**
 * `control` answers the dev tools' own requests (paths under /_baton/); undefined passes the request on.
 * `pages` are served here rather than by a node, in Bun's development mode: bundled from the files as
 * they are, and hot reloaded in the browser over Bun's own WebSocket when one changes. The front door
 * lives as long as `bun run dev`, so a page edit needs no roll, and one bundler watches the pages, not
 * one per node.
 */
export function startFrontDoor(
  port: number,
  hostname: string,
  backends: () => string[],
  control?: (req: Request) => Response | undefined,
  pages?: Record<string, HTMLBundle>,
): FrontDoor {
  let next = 0
  const pick = (): string | undefined => {
    const live = backends()
    if (live.length === 0) return undefined
    return live[next++ % live.length]
  }
  const development = pages ? { hmr: true, console: false } : false
  const server = Bun.serve<Tunnel>({
    port,
    hostname,
    development,
    routes: pages ?? {},
    async fetch(req, srv) {
      if (control && new URL(req.url).pathname.startsWith("/_baton/")) {
        const answer = control(req)
        if (answer) return answer
      }
      const target = pick()
      if (!target) return Response.json({ error: { code: "unavailable", message: "no node is ready yet" } }, { status: 503 })
      const url = new URL(req.url)
      if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
        if (srv.upgrade(req, { data: { target, path: url.pathname + url.search, queued: [] } })) return undefined
        return new Response("upgrade failed", { status: 400 })
      }
      const headers = new Headers(req.headers)
      headers.set("x-forwarded-for", srv.requestIP(req)?.address ?? "")
      try {
        return await fetch(target + url.pathname + url.search, {
          method: req.method,
          headers,
          body: req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer(),
          redirect: "manual",
        })
      } catch (error) {
        return Response.json({ error: { code: "unavailable", message: `node ${target} did not answer: ${(error as Error).message}` } }, { status: 502 })
      }
    },
    websocket: {
      open(ws) {
        const up = new WebSocket(ws.data.target.replace(/^http/, "ws") + ws.data.path)
        up.binaryType = "arraybuffer"
        ws.data.upstream = up
        up.onopen = () => {
          for (const m of ws.data.queued) up.send(m)
          ws.data.queued = []
        }
        up.onmessage = (ev) => ws.send(typeof ev.data === "string" ? ev.data : new Uint8Array(ev.data as ArrayBuffer))
        // The node's close code (1001 going away, 4010 reconnect, ...) is the client's to act on: pass it through.
        up.onclose = (ev) => closeQuietly(ws, ev.code === 1005 || ev.code === 1006 ? 1001 : ev.code, ev.reason)
        up.onerror = () => {}
      },
      message(ws, message) {
        const up = ws.data.upstream
        const data = typeof message === "string" ? message : new Uint8Array(message)
        if (up?.readyState === WebSocket.OPEN) up.send(data)
        else ws.data.queued.push(data)
      },
      close(ws, code, reason) {
        const up = ws.data.upstream
        // A client-side close() takes only 1000 or 3000-4999.
        const allowed = code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000
        if (up && (up.readyState === WebSocket.OPEN || up.readyState === WebSocket.CONNECTING)) up.close(allowed, reason)
      },
    },
  })
  return {
    server,
    url: `http://${hostname === "0.0.0.0" ? "localhost" : hostname}:${server.port}`,
    setPages: (next) => server.reload({ routes: next, development }),
    stop: () => server.stop(true),
  }
}

function closeQuietly(ws: ServerWebSocket<Tunnel>, code: number, reason: string): void {
  try {
    ws.close(code, reason)
  } catch {
    ws.terminate()
  }
}
