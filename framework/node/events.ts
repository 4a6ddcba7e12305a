import type { NodeEvent, NodeEventBody } from "../protocol/index.ts"

export type { EventOf, NodeEvent, NodeEventBody } from "../protocol/index.ts"

/** Called with every event a node raises, in order, synchronously. */
export type NodeEventListener = (event: NodeEvent) => void

/**
 * A node's events, stamped with its clock and id and handed to every
 * listener. Tiny on purpose: subscribe, unsubscribe, emit.
 */
export class NodeEvents {
  readonly #listeners = new Set<NodeEventListener>()

  constructor(
    readonly node: string,
    /** The node's clock (NodeConfig.clock): events are stamped with it. */
    readonly now: () => number,
    /** A listener threw: the node goes on (an observer must not break what it observes). */
    readonly onListenerError: (error: unknown, event: NodeEvent) => void = () => {},
  ) {}

  /** Calls `listener` with every event from now on; returns what unsubscribes it. */
  on(listener: NodeEventListener): () => void {
    this.#listeners.add(listener)
    return () => void this.#listeners.delete(listener)
  }

  /** Stamps `body` with the time and this node's id and delivers it. */
  emit(body: NodeEventBody): void {
    if (this.#listeners.size === 0) return
    const event = { ...body, time: this.now(), node: this.node } as NodeEvent
    // A copy: a listener may unsubscribe itself, or subscribe another, while it runs.
    for (const listener of [...this.#listeners]) {
      try {
        listener(event)
      } catch (error) {
        this.onListenerError(error, event)
      }
    }
  }
}
