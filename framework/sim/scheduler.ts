import nodeCrypto from "node:crypto"
import { generateAutomergeUrl } from "@automerge/automerge-repo"
import type { Clock } from "../cluster/index.ts"
import { Random } from "./random.ts"

/** Who an event belongs to: a node's label, a bot ("bot:…"), "net" (frames in flight) or "world" (faults, starts). */
export type Owner = string

/** The owner of the network's own events (a frame reaching its next hop): they touch no node's state. */
export const NET: Owner = "net"

interface Task {
  at: number
  seq: number
  owner: Owner
  fn: () => void
  every?: number
  cancelled?: boolean
  /** Synchronous bookkeeping that queues no promise continuation: nothing to drain after it. */
  plain?: boolean
}

/** What a timer call returns, in the shape both Node's and the web's callers expect. */
class Handle {
  constructor(readonly task: Task) {}
  ref(): this {
    return this
  }
  unref(): this {
    return this
  }
  hasRef(): boolean {
    return true
  }
  refresh(): this {
    return this
  }
  [Symbol.toPrimitive](): number {
    return this.task.seq
  }
}

/** Virtual time starts here (ms since the epoch), so wall-clock stamps look like real ones. */
const EPOCH = Date.UTC(2026, 0, 1)

/**
 * Virtual time and the one event queue of a simulated cluster. Every timer
 * of every node (theirs through the Clock they are given, the libraries'
 * through the globals `install` replaces) is an event here; events run one
 * at a time in (time, order of arming) order, and after each the microtask
 * queue is drained, so a run is a function of its seed. A paused owner's
 * events wait until it resumes; a dead owner's are dropped.
 */
export class Scheduler {
  /** Virtual ms since the start of the run. */
  now = 0
  /** The owner of the event running now: timers armed meanwhile are its. */
  current: Owner = "world"
  readonly random: Random
  /** Events run so far. */
  steps = 0
  #heap: Task[] = []
  #seq = 0
  #byId = new Map<number, Task>()
  #paused = new Map<Owner, Task[]>()
  #dead = new Set<Owner>()
  /** Real CPU time per owner, ms (events and the promise continuations they ran), when `measure` is on. */
  readonly cost = new Map<Owner, { total: number; max: number; events: number }>()
  measure = false
  /** A throw out of an event (it would reach the process's uncaughtException in production). */
  onError: (owner: Owner, error: unknown) => void = () => {}

  constructor(seed: string | number) {
    this.random = new Random(seed)
    this.#seed = seed
  }
  readonly #seed: string | number

  get wallNow(): number {
    return EPOCH + Math.floor(this.now)
  }

  /** Runs `fn` after `ms` of virtual time, as `owner`. */
  after(ms: number, fn: () => void, owner: Owner = this.current, every?: number): Handle {
    const task: Task = { at: this.now + Math.max(0, Number.isFinite(ms) ? ms : 0), seq: ++this.#seq, owner, fn, every }
    this.#push(task)
    this.#byId.set(task.seq, task)
    return new Handle(task)
  }

  /**
   * Runs `fn` after `ms` as `owner`, for callers whose `fn` only arms other
   * events (it creates no promise and calls no node code): the run does not
   * wait for the microtask queue to drain after it, which is the same as
   * waiting since there is nothing to drain.
   */
  afterPlain(ms: number, fn: () => void, owner: Owner): void {
    const task: Task = { at: this.now + Math.max(0, ms), seq: ++this.#seq, owner, fn, plain: true }
    this.#push(task)
  }

  cancel(handle: unknown): void {
    const task = handle instanceof Handle ? handle.task : typeof handle === "number" ? this.#byId.get(handle) : undefined
    if (!task) return
    task.cancelled = true
    this.#byId.delete(task.seq)
  }

  /** The Clock a node is given: its timers are its own (paused and killed with it). */
  clockFor(owner: Owner): Clock {
    return {
      now: () => this.wallNow,
      monotonic: () => this.now,
      setTimeout: (fn, ms) => this.after(ms, fn, owner),
      clearTimeout: (h) => this.cancel(h),
      setInterval: (fn, ms) => this.after(ms, fn, owner, Math.max(1, ms)),
      clearInterval: (h) => this.cancel(h),
      soon: (fn) => void this.after(0, fn, owner),
      sleep: (ms) => new Promise((resolve) => this.after(ms, resolve, owner)),
    }
  }

  /** Holds the owner's events (a process stopped by a GC pause, a starved CPU) until `resume`. */
  pause(owner: Owner): void {
    if (!this.#paused.has(owner)) this.#paused.set(owner, [])
  }

  resume(owner: Owner): void {
    const held = this.#paused.get(owner)
    this.#paused.delete(owner)
    for (const task of held ?? []) {
      task.at = this.now
      this.#push(task)
    }
  }

  isPaused(owner: Owner): boolean {
    return this.#paused.has(owner)
  }

  /** Drops every event of the owner, now and later (a crashed process). */
  kill(owner: Owner): void {
    this.#dead.add(owner)
    this.#paused.delete(owner)
  }

  isDead(owner: Owner): boolean {
    return this.#dead.has(owner)
  }

  /**
   * Runs events until `until` (virtual ms) or until `stop()` says so, checked
   * after each event; `each` runs after each event too (invariant checks),
   * given the owner of the event that ran.
   */
  async run(until: number, opts: { stop?: () => boolean; each?: (owner: Owner) => void } = {}): Promise<void> {
    while (this.#heap.length > 0) {
      if (opts.stop?.()) return
      const task = this.#heap[0] as Task
      if (task.at > until) break
      this.#pop()
      if (task.cancelled || this.#dead.has(task.owner)) continue
      const held = this.#paused.get(task.owner)
      if (held) {
        held.push(task)
        continue
      }
      this.now = Math.max(this.now, task.at)
      this.current = task.owner
      this.steps++
      if (task.every !== undefined) {
        task.at = this.now + task.every
        this.#push(task)
      } else if (!task.plain) this.#byId.delete(task.seq)
      const t0 = this.measure ? realNow() : 0
      try {
        task.fn()
      } catch (error) {
        this.onError(task.owner, error)
      }
      if (!task.plain) await drainMicrotasks()
      if (this.measure) {
        const ms = realNow() - t0
        const c = this.cost.get(task.owner) ?? { total: 0, max: 0, events: 0 }
        c.total += ms
        c.max = Math.max(c.max, ms)
        c.events++
        this.cost.set(task.owner, c)
      }
      this.current = "world"
      opts.each?.(task.owner)
    }
    this.now = Math.max(this.now, until)
  }

  #push(task: Task): void {
    const h = this.#heap
    h.push(task)
    let i = h.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(task, h[parent] as Task)) break
      h[i] = h[parent] as Task
      i = parent
    }
    h[i] = task
  }

  #pop(): void {
    const h = this.#heap
    const last = h.pop() as Task
    if (h.length === 0) return
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      let best = last
      if (l < h.length && before(h[l] as Task, best)) {
        m = l
        best = h[l] as Task
      }
      if (r < h.length && before(h[r] as Task, best)) {
        m = r
        best = h[r] as Task
      }
      if (m === i) break
      h[i] = h[m] as Task
      i = m
    }
    h[i] = last
  }

  /**
   * Replaces the runtime's clock, timers and random sources with this
   * scheduler's, for the code the simulator does not hand a Clock
   * (automerge-repo, the store, the client SDK). Returns the undo.
   */
  install(): () => void {
    const g = globalThis as unknown as Record<string, unknown>
    const saved = {
      setTimeout: g.setTimeout,
      clearTimeout: g.clearTimeout,
      setInterval: g.setInterval,
      clearInterval: g.clearInterval,
      setImmediate: g.setImmediate,
      clearImmediate: g.clearImmediate,
      dateNow: Date.now,
      perfNow: performance.now,
      random: Math.random,
      getRandomValues: crypto.getRandomValues,
      randomUUID: crypto.randomUUID,
      nodeRandomFillSync: nodeCrypto.randomFillSync,
      nodeRandomBytes: nodeCrypto.randomBytes,
      nodeRandomUUID: nodeCrypto.randomUUID,
    }
    const rnd = this.random.fork("globals")
    g.setTimeout = (fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => this.after(ms ?? 0, () => fn(...args))
    g.clearTimeout = (h: unknown) => this.cancel(h)
    g.setInterval = (fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => this.after(ms ?? 0, () => fn(...args), this.current, Math.max(1, ms ?? 0))
    g.clearInterval = (h: unknown) => this.cancel(h)
    g.setImmediate = (fn: (...a: unknown[]) => void, ...args: unknown[]) => this.after(0, () => fn(...args))
    g.clearImmediate = (h: unknown) => this.cancel(h)
    Date.now = () => this.wallNow
    performance.now = () => this.now
    Math.random = () => rnd.float()
    crypto.getRandomValues = (<T extends ArrayBufferView | null>(array: T): T => {
      if (array) rnd.fill(new Uint8Array(array.buffer, array.byteOffset, array.byteLength))
      return array
    }) as typeof crypto.getRandomValues
    crypto.randomUUID = () => {
      const b = rnd.fill(new Uint8Array(16))
      b[6] = ((b[6] as number) & 0x0f) | 0x40
      b[8] = ((b[8] as number) & 0x3f) | 0x80
      const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("")
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` as `${string}-${string}-${string}-${string}-${string}`
    }
    // node:crypto too: automerge-repo's document ids come from the uuid package, which reads it (not
    // globalThis.crypto). They were a run's one real random source: the ids are written in the
    // registry, so every run's changes hashed differently, and now and then the sync messages went
    // differently (seed 7 gave another trace about once in 15 runs under load, first apart at a sync frame).
    // Its own source, not a fork: a fork draws from `random`, and would move every plan a seed draws after it.
    const nodeRnd = new Random(`${this.#seed}:node:crypto`)
    let refilled = false
    const fillSync = <T extends ArrayBufferView>(buf: T, offset = 0, size?: number): T => {
      refilled = true
      const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
      nodeRnd.fill(bytes.subarray(offset, size === undefined ? undefined : offset + size))
      return buf
    }
    nodeCrypto.randomFillSync = fillSync as typeof nodeCrypto.randomFillSync
    nodeCrypto.randomBytes = ((size: number) => fillSync(Buffer.alloc(size))) as typeof nodeCrypto.randomBytes
    nodeCrypto.randomUUID = () => crypto.randomUUID()
    // uuid keeps a pool of 256 random bytes, refilled once spent: what is left in it was drawn before
    // this run (from the real source, or by an earlier run in this process). Spent until it refills
    // from this run's source, at most 16 ids of 16 bytes.
    for (let i = 0; i < 17 && !refilled; i++) generateAutomergeUrl()
    return () => {
      Object.assign(g, { setTimeout: saved.setTimeout, clearTimeout: saved.clearTimeout, setInterval: saved.setInterval, clearInterval: saved.clearInterval, setImmediate: saved.setImmediate, clearImmediate: saved.clearImmediate })
      Date.now = saved.dateNow
      performance.now = saved.perfNow
      Math.random = saved.random
      crypto.getRandomValues = saved.getRandomValues
      crypto.randomUUID = saved.randomUUID
      nodeCrypto.randomFillSync = saved.nodeRandomFillSync
      nodeCrypto.randomBytes = saved.nodeRandomBytes
      nodeCrypto.randomUUID = saved.nodeRandomUUID
    }
  }
}

function before(a: Task, b: Task): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}

const realSetImmediate = setImmediate
const realNow = performance.now.bind(performance)

/** Lets every promise continuation queued so far (and those they queue) run. */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => realSetImmediate(resolve))
}
