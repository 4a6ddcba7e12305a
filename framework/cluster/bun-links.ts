import type { ServerWebSocket } from "bun"
import type { AcceptedLink, Link, LinkHandlers } from "./link.ts"
import type { Timers } from "./clock.ts"

/**
 * Links over Bun's WebSockets: one we accepted on the node's port, one we
 * dialled. Either reports through LinkHandlers, and never throws out of a
 * socket callback (Bun ends the process on one); a handler's throw goes to
 * `failed`.
 */

/** An accepted link and its read half: serve.ts forwards the socket's events here. */
export interface ServerLink extends AcceptedLink {
  receive(data: string | Uint8Array): void
  closed(code: number, reason: string): void
  ponged(): void
}

/** A link over a socket Bun's server accepted (`ws.data` is the caller's). */
export function acceptedLink(ws: ServerWebSocket<unknown>, failed: (error: unknown) => void = () => {}): ServerLink {
  let open = true
  const guard = guarded(failed)
  const link: ServerLink = {
    send(data) {
      if (!open) return false
      // 0: Bun dropped the frame (backpressure past its limit). A lost frame must not pass silently.
      if (ws.send(data) === 0 && data.length > 0) {
        link.close(1011, "frame dropped under backpressure")
        return false
      }
      return true
    },
    close(code = 1000, reason = "") {
      if (!open) return
      open = false
      ws.close(code, reason)
    },
    get open() {
      return open
    },
    ping() {
      if (open) ws.ping()
    },
    receive(data) {
      if (open) guard(() => link.handlers?.message(data))
    },
    closed(code, reason) {
      open = false
      guard(() => link.handlers?.close(code, reason))
    },
    ponged() {
      guard(() => link.handlers?.pong?.())
    },
  }
  return link
}

/**
 * Dials a WebSocket and resolves once it is open (rejects when refused, or
 * when it has not opened within `timeout.ms`: a SYN into a dropped route
 * hangs for minutes). `handlers` gets its frames from then on.
 */
export function dialWebSocket(url: string, handlers: LinkHandlers, timeout?: { ms: number; timers: Timers }, failed: (error: unknown) => void = () => {}): Promise<Link> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.binaryType = "arraybuffer"
    let opened = false
    const timer = timeout?.timers.setTimeout(() => !opened && ws.close(), timeout.ms)
    const guard = guarded(failed)
    const link: Link = {
      send(data) {
        if (ws.readyState !== WebSocket.OPEN) return false
        ws.send(data)
        return true
      },
      close(code = 1000, reason = "") {
        if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reason)
      },
      get open() {
        return ws.readyState === WebSocket.OPEN
      },
      ping() {
        if (ws.readyState === WebSocket.OPEN) (ws as unknown as { ping(): void }).ping()
      },
    }
    ws.onopen = () => {
      opened = true
      timeout?.timers.clearTimeout(timer)
      resolve(link)
    }
    ws.onmessage = (ev) => guard(() => handlers.message(typeof ev.data === "string" ? ev.data : new Uint8Array(ev.data as ArrayBuffer)))
    ws.addEventListener("pong" as never, () => guard(() => handlers.pong?.()))
    ws.onclose = (ev) => {
      timeout?.timers.clearTimeout(timer)
      if (!opened) reject(new Error(`cannot reach ${url.split("?")[0]} (${ev.code}${ev.reason ? ` ${ev.reason}` : ""})`))
      else guard(() => handlers.close(ev.code, ev.reason))
    }
    ws.onerror = () => {}
  })
}

/** Runs a handler; its throw goes to `failed` (Bun ends the process on a throw out of a socket callback). */
function guarded(failed: (error: unknown) => void): (fn: () => void) => void {
  return (fn) => {
    try {
      fn()
    } catch (error) {
      failed(error)
    }
  }
}
