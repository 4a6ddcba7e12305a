/**
 * What a node tells the parts that watch it (the operators' timeline, the
 * dev cluster, tests and benchmarks): typed events, one per thing that
 * happened. Log lines say the same things to people; nothing decides
 * anything from their text. Plain JSON, so an event crosses a process
 * boundary (Bun IPC, GET /cluster/timeline) as it is.
 *
 * Defined here, below both the node and the cluster, because both raise
 * them: the cluster through its port to the node (cluster/port.ts), which
 * stamps and delivers them (node/events.ts).
 */

/** A member's state as its heartbeats tell it (cluster/control.ts). */
export type MemberStatus = "joining" | "ready" | "draining" | "gone"

/** Where a handler failed: a label of `baton_handler_errors_total`. */
export type HandlerSite =
  | "http"
  | "player-open"
  | "player-message"
  | "player-close"
  | "player-frame"
  | "flush"
  | "view"
  | "uncaught"
  | "unhandled-rejection"
  | "link-open"
  | "link-message"
  | "link-close"
  | "link-pong"

/** The node's own life: listening, draining, stopping. */
export type LifeEvent =
  /** Serving (`baton start`, startNode): players and peers can reach it at `url`. */
  | {
      t: "listening"
      url: string
      adminUrl: string | null
      games: string[]
      dataDir: string | null
      cluster: boolean
      /** The app's version in a cluster. */
      version: string | null
      /** False: what "replicated" sessions acknowledge lives only in this process (`reason` says why). */
      durable: boolean
      reason?: string
    }
  /** Sessions found in the data dir at start, and how many of them run again. */
  | { t: "sessions-resumed"; resumed: number; stored: number }
  /** Readiness fails and placement skips the node from now on. */
  | { t: "draining"; sessions: number }
  /** Draining with no peer to hand sessions to: it waits for one, up to `graceMs`. */
  | { t: "drain-waiting"; sessions: number; graceMs: number }
  /** Draining alone with a data dir: the sessions stay on disk for the next start. */
  | { t: "drain-kept-on-disk"; sessions: number }
  /** The drain is over (`failed`: sessions that found no taker and stayed). Pauses are ms a session was frozen. */
  | { t: "drained"; sessions: number; moved: number; failed: number; ms: number; pauseP50: number | null; pauseP99: number | null }
  /** Every session written out, players told to reconnect. `unreadable`: sessions left on disk as they were. */
  | { t: "stopped"; sessions: number; ms: number; unreadable: { session: string; document: string; why: string }[] }

/** Other members, as this node sees them. */
export type MemberEvent =
  | { t: "member-up"; member: string; url: string; version: string; status: MemberStatus }
  | { t: "member-down"; member: string; why: string }
  | { t: "member-status"; member: string; status: MemberStatus }
  /** A DNS lookup of BATON_PEERS found other addresses than the last one. */
  | { t: "peers-discovered"; name: string; addresses: string[] }

/** Cluster links refused: anyone on the network can cause these. */
export type RefusalEvent =
  /** The first refusal from `from` in a window (`signer`: set only when the token's signature checked out). */
  | { t: "link-refused"; from: string; path: string; code: string; reason: string; signer?: string }
  /** The refusals from `from` after its first, summed up when the window ends. */
  | { t: "link-refusals"; from: string; count: number; reasons: Record<string, number>; windowMs: number }

/** Sessions moving between nodes. */
export type MoveEvent =
  /** A session moved here: `via` is "handoff from <id>", "failover from <id>", … */
  | { t: "session-adopted"; session: string; game: string; epoch: number; via: string; fromVersion: number; toVersion: number }
  /** No longer runs here: handed off, fenced, superseded. */
  | { t: "session-released"; session: string; reason: string }
  | { t: "handoff-refused"; session: string; target: string; version: string; why: string }
  /** No node took the session (or its document could not be written): it runs on here. */
  | { t: "handoff-failed"; session: string; why: string }
  /** Sessions of members that went down, taken over by this node; `from`: their owners. */
  | { t: "failover"; sessions: number; ms: number; from: string[] }

/** Sessions and players: players can cause these at will. */
export type PlayEvent =
  | { t: "session-created"; session: string; game: string }
  /** A session a step of `by` spawned. */
  | { t: "session-spawned"; session: string; game: string; by: string }
  | { t: "session-collected"; session: string; reason: string }
  | { t: "session-idle-ended"; session: string }
  /** A first join (a player taking a seat; not a reconnect to it). */
  | { t: "player-joined"; session: string; player: string; seat: number }

/**
 * Something failed and was contained (the node goes on). `error` is the
 * exception's text, for operators; `errorId` is what a client was told.
 */
export type FailureEvent =
  | { t: "handler-failed"; site: HandlerSite; errorId: string; error: string; path?: string }
  | { t: "request-failed"; errorId: string; where: string; session?: string; error: string }
  | { t: "game-code-failed"; session: string; where: string; error: string }
  | { t: "spawn-failed"; session: string; game: string; by: string; error: string }
  /** The app's authenticate hook threw. */
  | { t: "authenticate-failed"; error: string }
  | { t: "checkpoint-failed"; session: string; error: string }
  | { t: "durable-write-failed"; session: string; error: string }
  | { t: "replication-failed"; session: string; error: string }
  | { t: "link-handler-failed"; error: string }
  | { t: "resume-failed"; session: string; game: string; why: string }

/** Damage found in the data dir (store.ts DataDirEvent): nothing is deleted, damaged files are set aside. */
export type DataDirDamage =
  | { t: "damaged-file"; file: string; movedTo: string; why: string; document: string; session?: string }
  /** `lines`: the first 20 of the `damagedLines` skipped. */
  | { t: "damaged-journal"; file: string; lines: number[]; damagedLines: number; movedTo?: string }
  | {
      t: "registry-rebuilt"
      why: "damaged" | "missing"
      setAside: { file: string; movedTo: string; why: string; document: string }[]
      sessions: number
      unreadable: { document: string; why: string }[]
    }

/** An event as it is raised: what happened. */
export type NodeEventBody = LifeEvent | MemberEvent | RefusalEvent | MoveEvent | PlayEvent | FailureEvent | DataDirDamage

/** When (the node's clock, ms since the epoch) and on which node. */
export interface EventStamp {
  time: number
  node: string
}

/** An event as it is delivered: stamped by the node that raised it. */
export type NodeEvent = NodeEventBody & EventStamp

/** The event of one type, e.g. `EventOf<"drained">`. */
export type EventOf<T extends NodeEvent["t"]> = Extract<NodeEvent, { t: T }>

/** An error's text for an event (an Error's fields are not enumerable: JSON would drop them). */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
