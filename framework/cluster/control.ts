import type { ServerWebSocket } from "bun"

/** Control messages between nodes (JSON over the control link). */
export type ControlMessage =
  | { t: "hello"; id: string; url: string; status: MemberStatus; version: string; sessions: number; peers: { id: string; url: string }[] }
  | { t: "hb"; status: MemberStatus; sessions: number }
  | { t: "bye" }
  | { t: "req"; rid: number; body: unknown }
  | { t: "res"; rid: number; ok: boolean; body?: unknown; error?: string }
  | { t: "msg"; body: unknown }

export type MemberStatus = "joining" | "ready" | "draining" | "gone"

/** One control link to a peer, whichever side dialled; frames are JSON text. */
export interface ControlLink {
  /** Who dialled: the pair keeps the link dialled by the lower node id. */
  readonly dialer: string
  send(msg: ControlMessage): void
  close(code?: number, reason?: string): void
  readonly open: boolean
}

/** A control link we accepted on our port. */
export function acceptedLink(ws: ServerWebSocket<unknown>, dialer: string): ControlLink {
  let open = true
  return {
    dialer,
    send(msg) {
      if (open && ws.send(JSON.stringify(msg)) === 0) ws.close(1011, "control frame dropped")
    },
    close(code = 1000, reason = "") {
      if (!open) return
      open = false
      ws.close(code, reason)
    },
    get open() {
      return open
    },
  }
}

/** Dials a peer's control endpoint; resolves once open, rejects on refusal. */
export function dialLink(
  url: string,
  dialer: string,
  on: { message(msg: ControlMessage): void; close(code: number, reason: string): void },
): Promise<ControlLink> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    let opened = false
    const link: ControlLink = {
      dialer,
      send(msg) {
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg))
      },
      close(code = 1000, reason = "") {
        if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reason)
      },
      get open() {
        return ws.readyState === WebSocket.OPEN
      },
    }
    ws.onopen = () => {
      opened = true
      resolve(link)
    }
    ws.onmessage = (ev) => {
      let msg: ControlMessage
      try {
        msg = JSON.parse(String(ev.data))
      } catch {
        return link.close(4000, "control frames are JSON")
      }
      on.message(msg)
    }
    ws.onclose = (ev) => {
      if (!opened) reject(new Error(`cannot reach ${url.split("?")[0]} (${ev.code}${ev.reason ? ` ${ev.reason}` : ""})`))
      else on.close(ev.code, ev.reason)
    }
    ws.onerror = () => {}
  })
}
