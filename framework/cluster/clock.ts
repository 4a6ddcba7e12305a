/**
 * Time, injected: cluster and node code read the clock and arm timers only
 * through a Clock (ClusterOptions.clock, NodeConfig.time), so the simulator
 * runs them on virtual time. `systemClock` is the runtime's.
 */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
  setInterval(fn: () => void, ms: number): unknown
  clearInterval(handle: unknown): void
}

export interface Clock extends Timers {
  /** Wall-clock ms since the epoch (Date.now): stamps that cross nodes (leases, link tokens, records). */
  now(): number
  /** Monotonic ms (performance.now): durations measured on this node. */
  monotonic(): number
  /** Runs `fn` after the current event-loop turn (setImmediate): one flush per turn. */
  soon(fn: () => void): void
  sleep(ms: number): Promise<void>
}

type Handle = ReturnType<typeof setTimeout>

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as Handle),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (h) => clearInterval(h as Handle),
  soon: (fn) => void setImmediate(fn),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
}

/** Kept for callers that only arm timers. */
export const systemTimers: Timers = systemClock
