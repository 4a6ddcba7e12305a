import type { Chunk, StorageAdapterInterface, StorageKey } from "@automerge/automerge-repo"
import type { Random } from "./random.ts"
import type { Owner, Scheduler } from "./scheduler.ts"

/** How long one operation takes, virtual ms: normally `normalMs`; while slow, uniform in `slowMs`. */
export interface DiskLatency {
  normalMs: [number, number]
  slowMs: [number, number]
}

export const DISK_LATENCY: DiskLatency = { normalMs: [0, 2], slowMs: [50, 500] }

/**
 * A simulated disk under a node's automerge-repo: an in-memory storage
 * adapter whose every operation (load, save, remove, and their range forms)
 * takes virtual time drawn from the seed, and completes as its owner's
 * event (a paused process's disk answers once it resumes; a dead one's never
 * does). Operations overlap but complete in the order they were issued, and
 * take effect when they complete, as on a disk with a queue. It belongs to
 * one incarnation of a process: a restart gets a new, empty one, as a node
 * without a data dir starts empty.
 */
export class SimDisk implements StorageAdapterInterface {
  readonly #data = new Map<string, { key: StorageKey; data: Uint8Array }>()
  readonly #sched: Scheduler
  readonly #rnd: Random
  readonly #owner: Owner
  readonly #latency: DiskLatency
  /** When the last operation issued completes. */
  #lastDone = 0
  /** Slow until this virtual time (the slow-disk fault). */
  slowUntil = Number.NEGATIVE_INFINITY
  /** Operations completed, and their total and worst latency (for tests and the report). */
  readonly stats = { ops: 0, totalMs: 0, worstMs: 0 }

  constructor(sched: Scheduler, rnd: Random, owner: Owner, latency: DiskLatency = DISK_LATENCY) {
    this.#sched = sched
    this.#rnd = rnd
    this.#owner = owner
    this.#latency = latency
  }

  get slow(): boolean {
    return this.#sched.now < this.slowUntil
  }

  /** Runs `fn` on the stored data once the operation's latency has passed (after every earlier operation). */
  #op<T>(fn: () => T): Promise<T> {
    const [lo, hi] = this.slow ? this.#latency.slowMs : this.#latency.normalMs
    const issued = this.#sched.now
    const done = Math.max(this.#lastDone, issued + this.#rnd.between(lo, hi))
    this.#lastDone = done
    return new Promise((resolve, reject) => {
      this.#sched.after(done - issued, () => {
        const ms = this.#sched.now - issued
        this.stats.ops++
        this.stats.totalMs += ms
        this.stats.worstMs = Math.max(this.stats.worstMs, ms)
        try {
          resolve(fn())
        } catch (error) {
          reject(error)
        }
      }, this.#owner)
    })
  }

  load(key: StorageKey): Promise<Uint8Array | undefined> {
    return this.#op(() => this.#data.get(name(key))?.data.slice())
  }

  save(key: StorageKey, data: Uint8Array): Promise<void> {
    const copy = data.slice()
    return this.#op(() => void this.#data.set(name(key), { key: [...key], data: copy }))
  }

  remove(key: StorageKey): Promise<void> {
    return this.#op(() => void this.#data.delete(name(key)))
  }

  loadRange(prefix: StorageKey): Promise<Chunk[]> {
    return this.#op(() => [...this.#data.values()].filter((e) => under(e.key, prefix)).map((e) => ({ key: [...e.key], data: e.data.slice() })))
  }

  removeRange(prefix: StorageKey): Promise<void> {
    return this.#op(() => {
      for (const [k, e] of this.#data) if (under(e.key, prefix)) this.#data.delete(k)
    })
  }
}

const name = (key: StorageKey) => key.join("\u0000")
const under = (key: StorageKey, prefix: StorageKey) => prefix.length <= key.length && prefix.every((part, i) => key[i] === part)
