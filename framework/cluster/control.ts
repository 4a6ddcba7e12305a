import type { ServerWebSocket } from "bun"
import type { Timers } from "./timers.ts"

/** Control messages between nodes (JSON over the control link). */
export type ControlMessage =
  /** `caps`: what the sender understands beyond the first version (CAPS); older nodes send fewer or none. */
  | { t: "hello"; id: string; url: string; status: MemberStatus; version: string; sessions: number; peers: { id: string; url: string }[]; caps?: string[] }
  /** Several messages in one frame, in order (only to peers whose hello said "batch"). */
  | { t: "batch"; msgs: ControlMessage[] }
  /** `ts`: the sender's clock, echoed back at once (hb-echo): the sender's lease is anchored at its own send time. */
  | { t: "hb"; status: MemberStatus; sessions: number; ts?: number }
  | { t: "hb-echo"; echo: number }
  /** Leaving. `moved`: the sessions it handed off, and to whom (a peer's registry copy may not show it yet). */
  | { t: "bye"; moved?: Record<string, string> }
  | { t: "req"; rid: number; body: unknown }
  | { t: "res"; rid: number; ok: boolean; body?: unknown; error?: string }
  | { t: "msg"; body: unknown }

export type MemberStatus = "joining" | "ready" | "draining" | "gone"

/** What this version understands (sent in hello). */
export const CAPS = ["batch", "registry-buckets", "quorum"]

/** One control link to a peer, whichever side dialled; frames are JSON text. */
export interface ControlLink {
  /** Who dialled: the pair keeps the link dialled by the lower node id. */
  readonly dialer: string
  send(msg: ControlMessage): void
  close(code?: number, reason?: string): void
  readonly open: boolean
  /**
   * Set once the peer's hello says it reads batches: then the messages sent
   * during one task go out as one frame (a relaying node forwards many
   * players' frames per turn; one WebSocket write each was most of its cost).
   */
  batching: boolean
}

/** The send half of a link: writes at once, or queues until the end of the current task when batching. */
function sender(write: (text: string) => void): { send(msg: ControlMessage, batching: boolean): void; flush(): void } {
  // Messages are serialised as they are sent, in the caller's frame: a value JSON cannot carry throws there,
  // where it is caught, not in the microtask (where a throw would end the process).
  let queue: string[] | undefined
  const flush = () => {
    const q = queue
    queue = undefined
    if (q) write(q.length === 1 ? (q[0] as string) : `{"t":"batch","msgs":[${q.join(",")}]}`)
  }
  return {
    send(msg, batching) {
      const text = JSON.stringify(msg)
      if (!batching && !queue) return write(text)
      if (queue) return void queue.push(text)
      queue = [text]
      queueMicrotask(flush)
    },
    flush,
  }
}

/** A control link we accepted on our port. */
export function acceptedLink(ws: ServerWebSocket<unknown>, dialer: string): ControlLink {
  let open = true
  const out = sender((text) => {
    if (open && ws.send(text) === 0) ws.close(1011, "control frame dropped")
  })
  return {
    dialer,
    batching: false,
    send(msg) {
      if (open) out.send(msg, this.batching)
    },
    close(code = 1000, reason = "") {
      if (!open) return
      out.flush() // what was sent before the close (a goodbye) still goes
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
  on: { message(msg: ControlMessage): void; close(code: number, reason: string): void; failed?(error: unknown): void },
  /** Gives up a connect that has not opened by then (a SYN into a dropped route hangs for minutes). */
  timeout?: { ms: number; timers: Timers },
): Promise<ControlLink> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    let opened = false
    const timer = timeout?.timers.setTimeout(() => !opened && ws.close(), timeout.ms)
    const out = sender((text) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(text)
    })
    const link: ControlLink = {
      dialer,
      batching: false,
      send(msg) {
        if (ws.readyState === WebSocket.OPEN) out.send(msg, this.batching)
      },
      close(code = 1000, reason = "") {
        out.flush() // what was sent before the close (a goodbye) still goes
        if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(code, reason)
      },
      get open() {
        return ws.readyState === WebSocket.OPEN
      },
    }
    ws.onopen = () => {
      opened = true
      timeout?.timers.clearTimeout(timer)
      resolve(link)
    }
    ws.onmessage = (ev) => {
      let msg: ControlMessage
      try {
        msg = JSON.parse(String(ev.data))
      } catch {
        return link.close(4000, "control frames are JSON")
      }
      try {
        on.message(msg)
      } catch (error) {
        // Bun ends the process on a throw out of a socket callback; one bad frame must not.
        on.failed?.(error)
      }
    }
    ws.onclose = (ev) => {
      timeout?.timers.clearTimeout(timer)
      if (!opened) reject(new Error(`cannot reach ${url.split("?")[0]} (${ev.code}${ev.reason ? ` ${ev.reason}` : ""})`))
      else on.close(ev.code, ev.reason)
    }
    ws.onerror = () => {}
  })
}
