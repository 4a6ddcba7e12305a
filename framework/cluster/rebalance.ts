import type { Cluster } from "./cluster.ts"
import type { Handoff } from "./handoff.ts"
import { rank } from "./placement.ts"
import type { NodePort } from "./port.ts"

export interface RebalanceOptions {
  /** At most one move per this many ms from this node (0: never rebalance). */
  everyMs: number
  /** Membership must not have changed for this long (a roll, a join, a failover settles first), ms. */
  steadyMs: number
}

/** Above the cluster's mean by more than this share of it (and by more than one session) counts as out of balance. */
const SLACK = 0.1
/** A move that takes longer is given up (the session stays, thawed), ms. */
const MOVE_DEADLINE_MS = 10_000

/**
 * Puts sessions back where placement ranks them once the cluster is steady.
 * While a rolling deploy runs, placement prefers the newest version, so the
 * first new node takes most sessions and keeps them when the others catch
 * up (a dev roll left 3 of 3 sessions on one node). A node holding more than
 * the cluster's mean hands one of its sessions that placement now ranks
 * elsewhere to that node, at most one every `everyMs`: each move is a
 * handoff, one short pause for that session's players, spread out in time.
 */
export class Rebalancer {
  readonly #cluster: Cluster
  readonly #handoff: Handoff
  readonly #node: Pick<NodePort, "id" | "clock" | "hostedEpochs" | "log">
  readonly #opts: RebalanceOptions
  #timer: unknown
  #changedAt: number
  #moving = false

  constructor(cluster: Cluster, handoff: Handoff, node: Pick<NodePort, "id" | "clock" | "hostedEpochs" | "log">, opts: RebalanceOptions) {
    this.#cluster = cluster
    this.#handoff = handoff
    this.#node = node
    this.#opts = opts
    this.#changedAt = node.clock.now()
    const changed = () => void (this.#changedAt = node.clock.now())
    cluster.on("node-up", changed)
    cluster.on("node-down", changed)
    cluster.on("status", changed)
  }

  start(): void {
    if (this.#opts.everyMs > 0) this.#timer = this.#node.clock.setInterval(() => void this.tick(), this.#opts.everyMs)
  }

  stop(): void {
    this.#node.clock.clearInterval(this.#timer as never)
  }

  /** One look: the session to move, if this node is out of balance in a steady cluster. */
  #pick(): { session: string; to: string } | undefined {
    const now = this.#node.clock.now()
    if (now - this.#changedAt < this.#opts.steadyMs) return undefined
    const members = this.#cluster.members().filter((m) => m.up)
    // Steady means every member is ready: none joining, draining or stopping.
    if (members.length < 2 || members.some((m) => m.status !== "ready")) return undefined
    const hosted = this.#node.hostedEpochs()
    const mine = hosted.size
    const total = members.reduce((n, m) => n + (m.id === this.#node.id ? mine : m.sessions), 0)
    const mean = total / members.length
    if (mine <= mean + Math.max(1, mean * SLACK)) return undefined
    for (const session of hosted.keys()) {
      const head = rank(session, members)[0]
      if (head && head.id !== this.#node.id && head.sessions < mean) return { session, to: head.id }
    }
    return undefined
  }

  async tick(): Promise<void> {
    if (this.#moving) return
    const move = this.#pick()
    if (!move) return
    this.#moving = true
    try {
      const r = await this.#handoff.handOff(move.session, this.#node.clock.now() + MOVE_DEADLINE_MS)
      if (r.error) this.#node.log.warn("rebalance: the move failed; the session stays here", { session: move.session, why: r.error })
      else this.#node.log.info("rebalanced a session to the node placement ranks first", { session: move.session, to: r.to, pauseMs: Math.round(r.pauseMs) })
    } finally {
      this.#moving = false
    }
  }
}
