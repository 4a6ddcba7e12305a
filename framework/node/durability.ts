import type { AnyGame } from "../game/index.ts"
import type { Logger } from "../log/index.ts"
import type { Store } from "../store/index.ts"
import type { HostedSession } from "./hosted.ts"

const NOT_DURABLE = "replicated sessions are not durable"

/** What the durability rules need of the node. */
export interface DurabilityHost {
  readonly store: Store
  readonly games: ReadonlyMap<string, AnyGame>
  readonly log: Logger
  /** Whether the node is in a cluster (or will be), and the live replicas of a session there. */
  clustered(): boolean
  liveReplicas(id: string): number
  /** The cluster is this node (every other member left gracefully): the lone node's rules apply. */
  aloneByDesign(): boolean
  /** The node is draining or stopping itself. */
  leaving(): boolean
  sessions(): Iterable<HostedSession>
}

export interface DurabilityReport {
  durable: boolean
  notDurable: number
  /** Clustered "replicated" sessions with no live replica: their acks wait for one (none is given without). */
  waiting: number
  reason?: string
}

/**
 * Where a "replicated" acknowledgement waits when no replica is live: for
 * the data dir to hold the change (one group-committed journal write for
 * every action since the last), or, with no data dir, nowhere, and then the
 * node says so (a log line on each change, /readyz, /metrics).
 */
export class Durability {
  #exposed = false

  constructor(readonly host: DurabilityHost) {}

  /** Whether sessions of `game` hold their acks until a copy outside this process has them. */
  holdsAcks(game: AnyGame): boolean {
    return game.durability === "replicated" && (this.host.clustered() || this.host.store.persistent)
  }

  /** Said once at start by a lone node that can keep no copy of what it acknowledges. */
  announce(): void {
    const exposed = [...this.host.games.values()].filter((g) => g.durability === "replicated").map((g) => g.name)
    if (!exposed.length || this.host.store.persistent || this.host.clustered()) return
    this.#exposed = true
    this.host.log.warn(NOT_DURABLE, { games: exposed, reason: "no data dir and no cluster: their acknowledged actions live only in this process" })
  }

  /** A session with held acks and no live replica: secure them on disk, or let them go and say so. */
  secureLocally(h: HostedSession): void {
    const store = this.host.store
    if (!store.persistent) {
      h.releaseAcks(Number.POSITIVE_INFINITY)
      if (!this.#exposed) this.check()
      return
    }
    if (!h.holding) return
    const rev = h.session.record.rev
    store.persist(h.session.record).then(
      () => h.releaseAcks(rev),
      // The acks stay held: the next action's write carries this change too.
      (error) => this.host.log.error("durable write failed", { session: h.id, error }),
    )
  }

  /** Whether an acknowledged action of every session survives this process dying. */
  report(): DurabilityReport {
    const clustered = this.host.clustered()
    let without = 0
    for (const h of this.host.sessions()) if (h.session.game.durability === "replicated" && !this.host.liveReplicas(h.id)) without++
    // In a cluster (not alone by design) nothing is acknowledged without a replica: such sessions wait.
    if (clustered && !this.host.aloneByDesign()) return { durable: true, notDurable: 0, waiting: without }
    if (this.host.store.persistent) return { durable: true, notDurable: 0, waiting: 0 }
    const notDurable = without
    const lone = !clustered && [...this.host.games.values()].some((g) => g.durability === "replicated")
    if (!lone && notDurable === 0) return { durable: true, notDurable, waiting: 0 }
    return {
      durable: false,
      notDurable,
      waiting: 0,
      reason: clustered
        ? 'every other member of the cluster left: sessions with durability "replicated" have no replica and this node has no data dir, so what they acknowledge dies with this process'
        : 'this node has no data dir and no cluster: what sessions with durability "replicated" acknowledge dies with this process',
    }
  }

  /** Logs a change between durable and not (once per change, not per action). */
  check(): void {
    const d = this.report()
    if (d.durable === !this.#exposed) return
    // Peers that left while this node leaves too are a cluster stopping (Ctrl-C on `bun run dev`), not a risk to warn of.
    if (!d.durable && this.host.leaving()) return
    this.#exposed = !d.durable
    if (d.durable) this.host.log.info("replicated sessions are durable again", {})
    else this.host.log.warn(NOT_DURABLE, { sessions: d.notDurable, reason: d.reason })
  }
}
