import type { EventOf, NodeEvent } from "../../framework/node/index.ts"

type EventType = NodeEvent["t"]

/**
 * The typed events one node process sends over Bun IPC (`baton start`
 * forwards every NodeEvent to a parent that spawned it with `ipc`). Tests
 * and benchmarks learn what a node did from these, never from its log text.
 *
 *   const events = new NodeEventLog()
 *   const proc = Bun.spawn(cmd, { ...options, ...events.spawnOptions })
 */
export class NodeEventLog {
  /** Every event so far, in the order the node raised them. */
  readonly events: NodeEvent[] = []
  /** Resolves when the channel has closed: the process is gone and every event it sent is here. */
  readonly closed: Promise<void>
  #close!: () => void
  #isClosed = false
  #waiters = new Set<() => void>()

  constructor() {
    this.closed = new Promise((resolve) => {
      this.#close = resolve
    })
  }

  /** What Bun.spawn's `ipc` and `onDisconnect` options call. */
  readonly spawnOptions = {
    ipc: (message: unknown) => this.#receive(message as NodeEvent),
    onDisconnect: () => {
      this.#isClosed = true
      this.#close()
      this.#wake()
    },
  }

  /** The events of one type so far, optionally only those `where` accepts. */
  of<T extends EventType>(t: T, where: (e: EventOf<T>) => boolean = () => true): EventOf<T>[] {
    return this.events.filter((e): e is EventOf<T> => e.t === t && where(e as EventOf<T>))
  }

  /** The first event of type `t` that `where` accepts, waiting for it; fails when the channel closes first or time runs out. */
  waitFor<T extends EventType>(t: T, where: (e: EventOf<T>) => boolean = () => true, timeoutMs = 15_000): Promise<EventOf<T>> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.of(t, where)[0]
        if (found) return done(() => resolve(found))
        if (this.#isClosed) return done(() => reject(new Error(`the node's event channel closed (the process exited) before a "${t}" event`)))
      }
      const timer = setTimeout(() => done(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for a "${t}" event`))), timeoutMs)
      const done = (settle: () => void) => {
        clearTimeout(timer)
        this.#waiters.delete(check)
        settle()
      }
      this.#waiters.add(check)
      check()
    })
  }

  #receive(event: NodeEvent): void {
    this.events.push(event)
    this.#wake()
  }

  #wake(): void {
    for (const check of [...this.#waiters]) check()
  }
}
