/**
 * An adaptive failure detector: pure, no I/O or timers (callers pass `now`).
 *
 * {@link PhiDetector} is the φ accrual failure detector (Hayashibara, Défago, Yared, Katayama, "The φ Accrual Failure
 * Detector", SRDS 2004) as in Akka's `PhiAccrualFailureDetector` and Cassandra's `FailureDetector`. Rather than "silent
 * for a fixed time" it says how unlikely the silence is given the peer's own rhythm, φ = -log10(P(its next beat is still
 * to come)): at φ = 8 a suspicion is wrong about once in 10^8 if the rhythm holds. A steady peer is suspected soon after
 * its beats stop; a busy, jittery one gets the slack its history shows it needs.
 *
 * No SWIM incarnations: links are a full mesh and every member hears every other directly, so a wrongly
 * suspected member refutes the suspicion by being heard (it is up in every view again within a heartbeat,
 * tests/cluster/suspicion.test.ts), and no rumour of a suspicion travels that could outlive it.
 */

export interface PhiOptions {
  /** The heartbeat interval peers use, ms: the guess before any is seen. Default 500, ClusterOptions.heartbeatMs's. */
  intervalMs?: number
  /** φ at or above which a peer is suspected. Default 8 (Akka's): ~1e-8 odds of a wrong suspicion if the rhythm holds. */
  threshold?: number
  /** Intervals kept per peer. Default 200: 100 s at 500 ms, so a new rhythm replaces the old within two minutes. */
  windowSize?: number
  /** Floor on the std deviation, ms: steady beats have ~0, so φ would leap on a few ms of lateness. Default intervalMs / 4. */
  minStdDevMs?: number
  /** Added to the mean interval, ms: a stall this long (GC, a busy event loop) barely raises φ. Default 2 × intervalMs. */
  acceptablePauseMs?: number
}

/** φ's cap: past it the figure says nothing more, and capped it stays finite and comparable. */
export const MAX_PHI = 1000

type History = { last: number; samples: number[]; mean: number; std: number }

/** A φ accrual failure detector over many peers. A peer never heard of has φ 0: that is no evidence of death. */
export class PhiDetector {
  readonly threshold: number
  readonly #o: Required<PhiOptions>
  readonly #peers = new Map<string, History>()

  constructor(opts: PhiOptions = {}) {
    const i = opts.intervalMs ?? 500
    const o = { intervalMs: i, threshold: 8, windowSize: 200, minStdDevMs: i / 4, acceptablePauseMs: 2 * i }
    for (const k of Object.keys(o) as (keyof PhiOptions)[]) o[k] = opts[k] ?? o[k]
    for (const [k, v] of Object.entries(o)) check(v, k, Number.isFinite(v) && (v > 0 || (v === 0 && k === "acceptablePauseMs")))
    this.#o = { ...o, windowSize: Math.ceil(o.windowSize) }
    this.threshold = o.threshold
  }

  /**
   * A heartbeat from `peer` at `now`. Unlike Akka, an interval is kept even if the peer was suspected when it came: here
   * suspicion leads to a probe, and a peer that beats again was slow, not gone; the window must learn that slowness, or
   * a peer whose rhythm slows past the threshold at once stays suspected. A peer declared down is forgotten instead.
   */
  heartbeat(peer: string, now: number): void {
    const h = this.#peers.get(peer)
    if (!h) return this.reset(peer, now)
    // A clock stepping back would make a negative interval: the beat still proves life, but is no sample.
    if (check(now, "now") >= h.last) this.#add(h, now - h.last)
    h.last = Math.max(h.last, now)
  }

  /** φ of `peer` at `now`: near 0 just after a beat, non-decreasing with silence, finite (≤ {@link MAX_PHI}). */
  phi(peer: string, now: number): number {
    const h = this.#peers.get(peer)
    if (!h) return 0
    const y = (Math.max(0, check(now, "now") - h.last) - h.mean - this.#o.acceptablePauseMs) / h.std
    // Akka's logistic approximation of the normal CDF: F(y) ≈ 1 / (1 + e^-z).
    const z = y * (1.5976 + 0.070566 * y * y)
    // -log10(1 - F) = log10(1 + e^z), written so e^z cannot overflow (Akka's form is Infinity past y ≈ 21.6).
    const phi = (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))) / Math.LN10
    return Math.min(phi, MAX_PHI)
  }

  /** Whether φ of `peer` has reached the threshold at `now`. */
  suspected(peer: string, now: number): boolean {
    return this.phi(peer, now) >= this.threshold
  }

  /** How long `peer` has been silent at `now`, ms; undefined if never heard. */
  silentMs(peer: string, now: number): number | undefined {
    const h = this.#peers.get(peer)
    return h && Math.max(0, check(now, "now") - h.last)
  }

  /**
   * Starts `peer` afresh, heard at `now`: after a reconnect (a new process, perhaps) the old rhythm says nothing.
   * Seeded like Akka's first heartbeat: the configured interval ± 25%.
   */
  reset(peer: string, now: number): void {
    const h: History = { last: check(now, "now"), samples: [], mean: 0, std: 0 }
    this.#add(h, this.#o.intervalMs * 0.75)
    this.#add(h, this.#o.intervalMs * 1.25)
    this.#peers.set(peer, h)
  }

  /** Stops watching `peer` (down, or gone). */
  forget(peer: string): void {
    this.#peers.delete(peer)
  }

  #add(h: History, interval: number): void {
    if (h.samples.push(interval) > this.#o.windowSize) h.samples.shift()
    // Recomputed, not running sums: 200 additions a beat are cheap, and sums of fractional ms drift.
    h.mean = h.samples.reduce((a, b) => a + b, 0) / h.samples.length
    const variance = h.samples.reduce((a, b) => a + (b - h.mean) ** 2, 0) / h.samples.length
    h.std = Math.max(Math.sqrt(variance), this.#o.minStdDevMs)
  }
}

function check(n: number, what: string, ok = Number.isFinite(n)): number {
  if (!ok) throw new RangeError(`${what}: ${n} is out of range`)
  return n
}
