import type { Link } from "./link.ts"
import type { MemberStatus } from "../protocol/index.ts"

/** Control messages between nodes (JSON over the control link). */
export type ControlMessage =
  /** `caps`: what the sender understands beyond the first version (CAPS); older nodes send fewer or none. */
  /** `leaseMs`: how long an echoed heartbeat lets the sender act as an owner (peers that see it down wait that long, not the failure timeout). */
  | { t: "hello"; id: string; url: string; status: MemberStatus; version: string; sessions: number; peers: { id: string; url: string }[]; caps?: string[]; protocol?: number; leaseMs?: number; persistent?: boolean }
  /** Several messages in one frame, in order (only to peers whose hello said "batch"). */
  | { t: "batch"; msgs: ControlMessage[] }
  /** `ts`: the sender's clock, echoed back at once (hb-echo): the sender's lease is anchored at its own send time. */
  | { t: "hb"; status: MemberStatus; sessions: number; ts?: number }
  | { t: "hb-echo"; echo: number }
  /** Leaving. `moved`: the sessions it handed off, and to whom (a peer's registry copy may not show it yet). */
  | { t: "bye"; moved?: Record<string, string> }
  | { t: "req"; rid: number; body: unknown }
  /** `error`: the message as a version-1 peer reads it; `err`: the structured error (version 2). */
  | { t: "res"; rid: number; ok: boolean; body?: unknown; error?: string; err?: unknown }
  | { t: "msg"; body: unknown }

export type { MemberStatus }

/** What this version understands (sent in hello). */
export const CAPS = ["batch", "registry-buckets", "quorum", "registry-mesh", "owns", "goodbye"]

/** One control link to a peer, whichever side dialled: JSON text frames over a Link. */
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

/**
 * The control protocol over a link. Messages are serialised as they are
 * sent, in the caller's frame: a value JSON cannot carry throws there, where
 * it is caught, not in the microtask (where a throw would end the process).
 */
export function controlLink(link: Link, dialer: string): ControlLink {
  let queue: string[] | undefined
  const write = (text: string) => {
    // A dropped frame must not pass silently (a lost reply would wait for its timeout): the link goes.
    if (!link.send(text)) link.close(1011, "control frame dropped")
  }
  const flush = () => {
    const q = queue
    queue = undefined
    if (q) write(q.length === 1 ? (q[0] as string) : `{"t":"batch","msgs":[${q.join(",")}]}`)
  }
  return {
    dialer,
    batching: false,
    send(msg) {
      if (!link.open) return
      const text = JSON.stringify(msg)
      if (!this.batching && !queue) return write(text)
      if (queue) return void queue.push(text)
      queue = [text]
      queueMicrotask(flush)
    },
    close(code = 1000, reason = "") {
      flush() // what was sent before the close (a goodbye) still goes
      link.close(code, reason)
    },
    get open() {
      return link.open
    },
  }
}

/** One control frame read: a JSON object with a string `t`, or undefined. */
export function parseControl(data: string | Uint8Array): ControlMessage | undefined {
  if (typeof data !== "string") return undefined
  try {
    const msg = JSON.parse(data) as unknown
    return typeof msg === "object" && msg !== null && typeof (msg as { t?: unknown }).t === "string" ? (msg as ControlMessage) : undefined
  } catch {
    return undefined
  }
}
