import type { Link, LinkHandlers } from "../../framework/cluster/link.ts"

/**
 * One end of an in-memory link pair: frames, pongs and the close reach the
 * other end on a later microtask, in order, copied (as a network would: a
 * sender reusing its buffer must not change what was sent).
 */
export interface MemoryLink extends Link {
  /** Set by whoever reads this end, before the first frame can arrive (the microtask after a send). */
  handlers?: LinkHandlers
  /** How this end was closed (by either side); undefined while open. */
  readonly closedWith?: { code: number; reason: string }
  /** Pings sent from this end. */
  readonly pings: number
  /** When true, send() refuses every frame (returns false), as a link over its buffer does. */
  refuse: boolean
  /** When false, this end answers no ping (a peer that hangs without closing). */
  answerPings: boolean
}

export function memoryLinkPair(): [MemoryLink, MemoryLink] {
  const a = end()
  const b = end()
  a.other = b
  b.other = a
  return [a, b]
}

type End = MemoryLink & { other: End; closedWith?: { code: number; reason: string }; pings: number; ended: boolean }

function end(): End {
  const self: End = {
    other: undefined as unknown as End,
    handlers: undefined,
    closedWith: undefined,
    /** Its close event was delivered: frames sent before the close still arrive before it, as over a WebSocket. */
    ended: false,
    pings: 0,
    refuse: false,
    answerPings: true,
    get open() {
      return self.closedWith === undefined
    },
    send(data) {
      if (!self.open || self.refuse) return false
      const copy = typeof data === "string" ? data : data.slice()
      const to = self.other
      queueMicrotask(() => {
        if (!to.ended) to.handlers?.message(copy)
      })
      return true
    },
    close(code = 1000, reason = "") {
      if (!self.open) return
      const closed = { code, reason }
      self.closedWith = closed
      self.other.closedWith ??= closed
      const ends = [self, self.other]
      queueMicrotask(() => {
        for (const e of ends) {
          e.ended = true
          e.handlers?.close(closed.code, closed.reason)
        }
      })
    },
    ping() {
      if (!self.open) return
      self.pings++
      const to = self.other
      queueMicrotask(() => {
        if (to.open && to.answerPings) queueMicrotask(() => self.open && self.handlers?.pong?.())
      })
    },
  }
  return self
}
