import { systemClock } from "../cluster/index.ts"
import { isIP } from "node:net"
import type { Logger } from "../log/index.ts"
import type { Counter, Registry } from "../metrics/index.ts"
import type { RefusalEvent } from "../protocol/index.ts"

export interface RefusalOptions {
  /** One aggregated event per source per window, ms. Default 10,000. */
  windowMs?: number
  /** Sources tracked one by one per window; the rest are counted together. Default 20. */
  maxSources?: number
  now?: () => number
  setTimer?: (fn: () => void, ms: number) => unknown
}

interface Tally {
  /** Refusals after the first (the first was logged at once). */
  more: number
  codes: Record<string, number>
}

const OTHERS = "(other sources)"

/**
 * Refused cluster links, counted and shown without letting whoever makes
 * them flood the timeline: every refusal counts in a metric (labelled by
 * our own reason code, never by source), the first from a source in a
 * window is logged and raised at once, and the rest from it are summed up in one event
 * when the window ends. At most `maxSources` sources are tracked per window;
 * more are summed as one. Nothing the caller sent is shown but a source
 * address (a well-formed IP) and, when the token's signature checked out,
 * the node that signed it.
 */
export class LinkRefusals {
  readonly #log: Logger
  readonly #emit: (event: RefusalEvent) => void
  readonly #count: Counter
  readonly #windowMs: number
  readonly #maxSources: number
  readonly #setTimer: (fn: () => void, ms: number) => unknown
  #window: Map<string, Tally> | undefined

  /** `emit`: the node's events (the timeline shows them). */
  constructor(log: Logger, emit: (event: RefusalEvent) => void, metrics: Registry, opts: RefusalOptions = {}) {
    this.#log = log
    this.#emit = emit
    this.#count = metrics.counter("baton_cluster_link_refusals_total", "Cluster links refused, by reason")
    this.#windowMs = opts.windowMs ?? 10_000
    this.#maxSources = opts.maxSources ?? 20
    this.#setTimer = opts.setTimer ?? ((fn, ms) => systemClock.setTimeout(fn, ms))
  }

  /** `from`: the source address as seen (see sourceAddress); `node`: set only when the token's signature checked out. */
  refused(from: string | undefined, r: { code: string; reason: string; node?: string }, path: string): void {
    this.#count.inc(1, { reason: r.code })
    const source = from && isIP(from) ? from : "(unknown)"
    if (!this.#window) {
      const window = new Map<string, Tally>()
      this.#window = window
      this.#setTimer(() => this.#close(window), this.#windowMs)
    }
    const known = this.#window.get(source)
    const key = known || this.#window.size < this.#maxSources ? source : OTHERS
    const tally = this.#window.get(key)
    if (tally) {
      tally.more++
      tally.codes[r.code] = (tally.codes[r.code] ?? 0) + 1
      return
    }
    this.#window.set(key, { more: key === OTHERS ? 1 : 0, codes: key === OTHERS ? { [r.code]: 1 } : {} })
    if (key === OTHERS) return
    this.#log.warn("cluster link refused", { from: source, path, code: r.code, reason: r.reason, signer: r.node })
    this.#emit({ t: "link-refused", from: source, path, code: r.code, reason: r.reason, ...(r.node ? { signer: r.node } : {}) })
  }

  #close(window: Map<string, Tally>): void {
    if (this.#window === window) this.#window = undefined
    for (const [from, t] of window) {
      if (t.more === 0) continue
      this.#log.warn("cluster link refused", { from, count: t.more, reasons: t.codes, windowMs: this.#windowMs })
      this.#emit({ t: "link-refusals", from, count: t.more, reasons: t.codes, windowMs: this.#windowMs })
    }
  }
}

/**
 * Where a request came from: the socket's address, or — only when the node
 * is told it sits behind a proxy it trusts — the last X-Forwarded-For entry
 * (the one that proxy added; earlier ones are whatever the client wrote).
 */
export function sourceAddress(socketAddress: string | undefined, forwarded: string | null, trustProxy: boolean): string | undefined {
  if (!trustProxy || !forwarded) return socketAddress
  const last = forwarded.split(",").pop()?.trim() ?? ""
  return isIP(last) ? last : socketAddress
}
