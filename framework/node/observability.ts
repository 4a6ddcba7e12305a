import { Registry } from "../metrics/index.ts"
import type { NodeEvent } from "./events.ts"
import { shown, type TimelineEvent, type TimelineList } from "./timeline.ts"

export type { TimelineEvent } from "./timeline.ts"

/** Entries each of the timeline's lists keeps (timeline.ts says which events go where). */
const KEPT: Record<TimelineList, number> = { cluster: 500, players: 300, outside: 50 }

/** What the gauges read when /metrics is scraped. */
export interface GaugeSources {
  sessions(): number
  players(): number
  documents(): number
  /** Session documents kept as their saved bytes, without a handle (idle: see store/parking.ts). */
  parkedDocuments(): number
  documentSizes(): number[]
  replicaLag(): { p50: number | null; p99: number | null } | undefined
  documentLag(): { p50: number | null; p99: number | null } | undefined
  members(): { id: string; status: string; version: string; up: boolean }[]
  /** Sessions with durability "replicated" that have neither a live replica nor a data dir. */
  notDurable(): number
}

/**
 * What a node shows its operators: the timeline (its notable events, which
 * is what the dashboard's feed is) and the Prometheus metrics.
 */
export class Observability {
  readonly metrics = new Registry()
  readonly #lists: Record<TimelineList, TimelineEvent[]> = { cluster: [], players: [], outside: [] }
  readonly #actions = this.metrics.counter("baton_actions_total", "Actions applied or refused")
  readonly #rejected = this.metrics.counter("baton_actions_rejected_total", "Actions refused, by code")
  readonly #actionSeconds = this.metrics.histogram("baton_action_seconds", "Time to validate and apply one action", [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05])
  readonly #moves = this.metrics.counter("baton_session_moves_total", "Sessions moved to or taken over by this node, by kind")
  readonly #handoffSeconds = this.metrics.histogram("baton_handoff_seconds", "Pause of a session handed off from this node (frozen until the target acknowledged)", [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5])
  readonly #failoverSeconds = this.metrics.histogram("baton_failover_seconds", "From a peer's node-down to this node running one of its sessions", [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5])

  readonly #diskWrites = this.metrics.counter("baton_durable_writes_total", 'Group commits to the journal in the data dir that "replicated" acks waited for (no live replica)')
  readonly #diskSessions = this.metrics.counter("baton_durable_write_sessions_total", "Sessions those group commits wrote (a journal line each)")
  readonly #diskSeconds = this.metrics.histogram("baton_durable_write_seconds", "Time of one group commit to the data dir", [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25])

  /** One of the node's events: kept on the timeline if it shows that type (timeline.ts). */
  record(event: NodeEvent): void {
    const it = shown(event)
    if (!it) return
    const list = this.#lists[it.list]
    list.push(it.entry)
    if (list.length > KEPT[it.list]) list.splice(0, list.length - KEPT[it.list])
  }

  /** The notable events after `since`, oldest first: the cluster's last 500, players' last 300, and the last 50 refused cluster links. */
  timeline(since = 0): TimelineEvent[] {
    return Object.values(this.#lists)
      .flatMap((l) => l.filter((e) => e.time > since))
      .sort((a, b) => a.time - b.time)
  }

  action(seconds: number, refusal?: string): void {
    this.#actionSeconds.observe(seconds)
    this.#actions.inc()
    if (refusal) this.#rejected.inc(1, { code: refusal })
  }

  diskCommit(sessions: number, ms: number): void {
    this.#diskWrites.inc()
    this.#diskSessions.inc(sessions)
    this.#diskSeconds.observe(ms / 1000)
  }

  move(kind: "handoff" | "failover", ms: number): void {
    this.#moves.inc(1, { kind })
    ;(kind === "handoff" ? this.#handoffSeconds : this.#failoverSeconds).observe(ms / 1000)
  }

  gauges(src: GaugeSources): void {
    const m = this.metrics
    m.gauge("baton_sessions", "Sessions running on this node", src.sessions)
    m.gauge("baton_players", "Player connections attached to this node", src.players)
    m.gauge("baton_documents", "automerge documents open in this node's repo (a handle each)", src.documents)
    m.gauge("baton_documents_parked", "Session documents of this node parked while idle (their saved bytes, no handle)", src.parkedDocuments)
    m.gauge("baton_document_bytes", "Saved size of session documents (max and median of up to 50 of this node's)", () => {
      const sizes = src.documentSizes().sort((a, b) => a - b)
      return [
        [{ stat: "median" }, sizes[Math.floor(sizes.length / 2)] ?? 0],
        [{ stat: "max" }, sizes[sizes.length - 1] ?? 0],
      ]
    })
    const quantiles = (s: { p50: number | null; p99: number | null } | undefined): [Record<string, string>, number][] => [
      [{ quantile: "0.5" }, s?.p50 ?? 0],
      [{ quantile: "0.99" }, s?.p99 ?? 0],
    ]
    m.gauge("baton_replica_lag_ms", "How old changes were when they reached this node as a replica (p50, p99 of the last 10,000)", () => quantiles(src.replicaLag()))
    m.gauge("baton_document_lag_ms", "How old checkpoints were when they reached this node's replica documents (p50, p99 of the last 10,000)", () =>
      quantiles(src.documentLag()),
    )
    m.gauge(
      "baton_sessions_not_durable",
      'Sessions with durability "replicated" that have neither a live replica nor a data dir: what they acknowledge dies with this process',
      src.notDurable,
    )
    m.gauge("baton_cluster_member_up", "Members as this node sees them (1 up, 0 down)", () =>
      src.members().map((x) => [{ member: x.id, status: x.status, version: x.version }, x.up ? 1 : 0]),
    )
  }
}
