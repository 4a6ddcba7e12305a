/** An action sent and not yet acknowledged. */
export interface Pending {
  id: number
  /** Its "act" frame as first sent (a resend may name the action before it: see GameSession's frameOf). */
  frame: string
  resolve(value: unknown): void
  /** With an ActionError. */
  reject(error: Error): void
}

/**
 * The actions sent and not yet acknowledged, oldest first: ids count up and
 * a Map iterates in insertion order. Knows the newest without a scan, since
 * each new action's frame names it: a player acting faster than the node
 * answers would otherwise pay for every action still out on each `act`.
 */
export class PendingActions {
  #byId = new Map<number, Pending>()
  /** The newest id pending, or -1 once it was answered (found again by a scan when asked). */
  #newest = 0

  get size(): number {
    return this.#byId.size
  }

  get(id: number): Pending | undefined {
    return this.#byId.get(id)
  }

  has(id: number): boolean {
    return this.#byId.has(id)
  }

  /** `p.id` must be above every id added before. */
  add(p: Pending): void {
    this.#byId.set(p.id, p)
    this.#newest = p.id
  }

  delete(id: number): void {
    if (this.#byId.delete(id) && id === this.#newest) this.#newest = -1
  }

  /** The newest pending id, 0 when none. Answers come oldest first, so the newest goes last and a scan is rare. */
  newest(): number {
    if (this.#newest < 0) {
      this.#newest = 0
      for (const id of this.#byId.keys()) this.#newest = id
    }
    return this.#newest
  }

  /** The newest pending id below `id`, 0 when none. */
  before(id: number): number {
    let prev = 0
    for (const k of this.#byId.keys()) if (k < id && k > prev) prev = k
    return prev
  }

  values(): IterableIterator<Pending> {
    return this.#byId.values()
  }

  clear(): void {
    this.#byId.clear()
    this.#newest = 0
  }
}
