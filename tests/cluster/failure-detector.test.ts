import { describe, expect, test } from "bun:test"
import fc from "fast-check"
import { MAX_PHI, PhiDetector } from "../../framework/cluster/failure-detector.ts"

/** Beats `peer` at each of `intervals` after `start` (the first beat at `start`); returns the last beat's time. */
function beat(d: PhiDetector, peer: string, start: number, intervals: number[]): number {
  let t = start
  d.heartbeat(peer, t)
  for (const i of intervals) d.heartbeat(peer, (t += i))
  return t
}

/** How long after `last` the peer is first suspected, to the ms; checks on the way that φ never decreases. */
function timeToSuspicion(d: PhiDetector, peer: string, last: number): number {
  let prev = 0
  for (let s = 0; ; s++) {
    const phi = d.phi(peer, last + s)
    expect(phi).toBeGreaterThanOrEqual(prev)
    prev = phi
    if (d.suspected(peer, last + s)) return s
  }
}

const steady = (ms: number, n = 100) => Array<number>(n).fill(ms)

/** A deterministic PRNG (mulberry32), so the "busy peer" histories are the same on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
const busy = (n: number, seed = 1) => Array.from({ length: n }, ((r) => () => 200 + Math.floor(r() * 1000))(random(seed)))

describe("PhiDetector", () => {
  test("steady 200 ms heartbeats keep φ near 0, even with a beat missed", () => {
    const d = new PhiDetector({ intervalMs: 200 })
    let t = 0
    for (let i = 0; i < 100; i++) {
      d.heartbeat("p", (t += 200))
      expect(d.phi("p", t + 200)).toBeLessThan(1e-6)
      expect(d.phi("p", t + 400)).toBeLessThan(1e-3)
      expect(d.suspected("p", t + 400)).toBe(false)
    }
  })

  test("silence raises φ monotonically past the threshold, sooner for a peer that beats faster", () => {
    const d = new PhiDetector() // the cluster's defaults: 500 ms heartbeats
    const fast = timeToSuspicion(d, "fast", beat(d, "fast", 0, steady(200, 250)))
    const slow = timeToSuspicion(d, "slow", beat(d, "slow", 0, steady(1000, 250)))
    // mean + acceptable pause (1000) + ~5.2 std deviations (floor 125): once the first guess has left the window,
    // the observed mean is all that differs.
    expect(fast).toBeGreaterThan(1200)
    expect(fast).toBeLessThan(2000)
    expect(slow - fast).toBe(800)
    // With the 200 ms beats of the tests' clusters, a dead peer is suspected well within today's failureMs (3000).
    const t = new PhiDetector({ intervalMs: 200 })
    expect(timeToSuspicion(t, "p", beat(t, "p", 0, steady(200)))).toBeLessThan(1000)
  })

  test("a busy peer (beats 200-1200 ms apart) is given the slack its history shows, but not more", () => {
    const d = new PhiDetector({ intervalMs: 200 })
    const intervals = busy(300)
    let t = 0
    const suspectedOnArrival: number[] = []
    d.heartbeat("p", t)
    intervals.forEach((i, n) => {
      if (d.suspected("p", t + i)) suspectedOnArrival.push(n)
      d.heartbeat("p", (t += i))
    })
    // The first guess was 200 ms beats: at most a late beat or two is suspected before the window learns.
    expect(suspectedOnArrival.filter((n) => n >= 3)).toEqual([])
    // Its longest observed interval plus the acceptable pause (400) does not make it suspect...
    expect(d.suspected("p", t + 1200 + 400)).toBe(false)
    const adapted = timeToSuspicion(d, "p", t)
    const s = new PhiDetector({ intervalMs: 200 })
    expect(adapted).toBeGreaterThan(2 * timeToSuspicion(s, "p", beat(s, "p", 0, steady(200))))
    // ...a pause well past that does.
    expect(adapted).toBeLessThan(4000)
    expect(d.suspected("p", t + 4000)).toBe(true)
  })

  test("a peer whose beats slow at once past the threshold is learned within a few beats, not suspected forever", () => {
    const d = new PhiDetector({ intervalMs: 200 })
    let t = beat(d, "p", 0, steady(200))
    const suspectedOnArrival: boolean[] = []
    for (let i = 0; i < 10; i++) {
      suspectedOnArrival.push(d.suspected("p", t + 2000))
      d.heartbeat("p", (t += 2000))
    }
    expect(suspectedOnArrival[0]).toBe(true)
    expect(suspectedOnArrival.slice(5)).toEqual([false, false, false, false, false])
  })

  test("the window is bounded: only the last windowSize intervals count", () => {
    const opts = { intervalMs: 200, windowSize: 10, minStdDevMs: 50, acceptablePauseMs: 400 }
    const old = new PhiDetector(opts)
    const fresh = new PhiDetector({ ...opts, intervalMs: 1000 })
    const a = beat(old, "p", 0, [...steady(200, 500), ...steady(1000, 10)])
    const b = beat(fresh, "p", 0, steady(1000, 10))
    for (let s = 0; s < 5000; s += 50) expect(old.phi("p", a + s)).toBe(fresh.phi("p", b + s))
  })

  test("a first heartbeat seeds the rhythm with the configured interval; reset starts a reconnected peer afresh", () => {
    const d = new PhiDetector({ intervalMs: 200 })
    d.heartbeat("new", 0)
    // interval 200 ± 50 seeded: 200 + 400 + ~5.2 × 50.
    const first = timeToSuspicion(d, "new", 0)
    expect(first).toBeGreaterThan(800)
    expect(first).toBeLessThan(900)
    const t = beat(d, "p", 0, busy(200))
    expect(timeToSuspicion(d, "p", t)).toBeGreaterThan(2 * first)
    d.reset("p", t + 5000) // heard again after a reconnect: its old rhythm is not the new process's
    expect(d.phi("p", t + 5000)).toBeLessThan(1e-6)
    expect(d.silentMs("p", t + 5100)).toBe(100)
    expect(timeToSuspicion(d, "p", t + 5000)).toBe(first)
  })

  test("unknown and forgotten peers: φ 0, not suspected, no silence", () => {
    const d = new PhiDetector()
    expect([d.phi("x", 1e9), d.suspected("x", 1e9), d.silentMs("x", 1e9)]).toEqual([0, false, undefined])
    beat(d, "p", 0, steady(500, 3))
    expect(d.silentMs("p", 2000)).toBe(500)
    d.forget("p")
    expect([d.phi("p", 1e9), d.suspected("p", 1e9), d.silentMs("p", 1e9)]).toEqual([0, false, undefined])
  })

  test("φ is capped, never Infinity or NaN; a clock stepping back adds no sample; bad numbers are refused", () => {
    const d = new PhiDetector({ intervalMs: 200 })
    const t = beat(d, "p", 0, steady(200))
    expect(d.phi("p", t + 10_000)).toBe(MAX_PHI) // Akka's formula gives Infinity here
    expect(d.phi("p", Number.MAX_VALUE)).toBe(MAX_PHI)
    expect(d.phi("p", t - 1e6)).toBeLessThan(1e-6)
    const before = timeToSuspicion(d, "p", t)
    d.heartbeat("p", t - 150) // earlier than the last beat: no negative interval enters the window
    expect(timeToSuspicion(d, "p", t)).toBe(before)
    expect(() => d.heartbeat("p", Number.NaN)).toThrow(RangeError)
    expect(() => d.phi("p", Number.POSITIVE_INFINITY)).toThrow(RangeError)
    expect(() => new PhiDetector({ minStdDevMs: 0 })).toThrow(RangeError)
    expect(() => new PhiDetector({ acceptablePauseMs: Number.NaN })).toThrow(RangeError)
    expect(new PhiDetector({ acceptablePauseMs: 0 }).threshold).toBe(8)
  })

  test("property: for any history, φ is finite, within [0, MAX_PHI], and non-decreasing in silence", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 60_000 }), { maxLength: 300 }),
        fc.array(fc.double({ min: 0, max: 1e7, noNaN: true }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 5_000 }),
        (intervals, silences, intervalMs) => {
          const d = new PhiDetector({ intervalMs, windowSize: 50 })
          const t = beat(d, "p", 1_700_000_000_000, intervals)
          let prev = 0
          for (const s of silences.sort((a, b) => a - b)) {
            const phi = d.phi("p", t + s)
            expect(Number.isFinite(phi)).toBe(true)
            expect(phi).toBeGreaterThanOrEqual(prev)
            expect(phi).toBeLessThanOrEqual(MAX_PHI)
            prev = phi
          }
        },
      ),
      { numRuns: 300 },
    )
  })
})
