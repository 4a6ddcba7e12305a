import type { EventOf, NodeEvent } from "./events.ts"

/** Which of the timeline's lists an event goes to (each bounded on its own). */
export type TimelineList = "cluster" | "outside" | "players"

type Level = "info" | "warn" | "error"

/** How one type of event is shown: its list, its level, and its words (the same as its log line's). */
interface Shown<E> {
  list: TimelineList
  level?: Level | ((e: E) => Level)
  msg: string | ((e: E) => string)
}

/**
 * Every event type, and whether and how the operators' timeline shows it.
 * Three lists: the cluster's events; those anyone on the network can cause
 * (refused links: a short list of their own, so they never push the others
 * out); and those a player can cause at will (join and leave in a loop,
 * create sessions, send frames that make game code fail), so a player
 * cannot push the cluster's events (members, drains, failovers) off the
 * timeline either. A new event type must be placed here (the type says so).
 */
export const TIMELINE: { [T in NodeEvent["t"]]: Shown<EventOf<T>> | null } = {
  listening: { list: "cluster", msg: "node listening" },
  "sessions-resumed": null,
  draining: { list: "cluster", msg: "draining" },
  "drain-waiting": null,
  "drain-kept-on-disk": null,
  drained: { list: "cluster", msg: "drained" },
  stopped: { list: "cluster", level: (e) => (e.unreadable.length ? "error" : "info"), msg: "node stopped" },
  "member-up": { list: "cluster", msg: "node-up" },
  "member-down": { list: "cluster", msg: "node-down" },
  "member-status": { list: "cluster", msg: "member status" },
  "peers-discovered": null,
  "session-adopted": { list: "cluster", msg: "session adopted" },
  "session-released": { list: "cluster", msg: "session released" },
  "handoff-refused": { list: "cluster", level: "warn", msg: "handoff refused; trying the next node" },
  "handoff-failed": { list: "cluster", level: "error", msg: "handoff failed; the session stays here" },
  failover: { list: "cluster", msg: "failover" },
  "link-refused": { list: "outside", level: "warn", msg: "cluster link refused" },
  "link-refusals": { list: "outside", level: "warn", msg: "cluster link refused" },
  "session-created": { list: "players", msg: "session created" },
  "session-spawned": { list: "players", msg: "session spawned" },
  "session-collected": { list: "players", msg: "session collected" },
  "session-idle-ended": { list: "players", msg: "session idle, ended" },
  "player-joined": { list: "players", msg: "player joined" },
  "handler-failed": { list: "players", level: "error", msg: "handler failed" },
  "request-failed": { list: "players", level: "error", msg: "request failed" },
  "game-code-failed": { list: "players", level: "error", msg: "game code failed" },
  "spawn-failed": { list: "players", level: "error", msg: "spawn failed" },
  // Whatever a player sends reaches the app's hook: a throw there is theirs to cause at will.
  "authenticate-failed": { list: "players", level: "error", msg: "authenticate threw" },
  "checkpoint-failed": { list: "cluster", level: "error", msg: "checkpoint failed" },
  "durable-write-failed": { list: "cluster", level: "error", msg: "durable write failed" },
  "replication-failed": { list: "cluster", level: "error", msg: "session cannot be replicated: its record does not serialise" },
  "link-handler-failed": { list: "cluster", level: "error", msg: "cluster link handler failed" },
  "resume-failed": { list: "cluster", level: "error", msg: "stored session cannot be resumed; left as it is" },
  "damaged-file": { list: "cluster", level: "error", msg: "damaged file in the data dir set aside" },
  "damaged-journal": { list: "cluster", level: "error", msg: "damaged journal lines skipped; the file is set aside" },
  "registry-rebuilt": { list: "cluster", level: "error", msg: (e) => `registry ${e.why}: rebuilt from the session documents` },
}

/** One entry of GET /cluster/timeline: the event itself, with its level and words for the dashboard. */
export type TimelineEvent = NodeEvent & { level: Level; msg: string }

/** The timeline entry for `event` and its list, or undefined when the timeline does not show it. */
export function shown(event: NodeEvent): { list: TimelineList; entry: TimelineEvent } | undefined {
  const how = TIMELINE[event.t] as Shown<NodeEvent> | null
  if (!how) return undefined
  const msg = typeof how.msg === "string" ? how.msg : how.msg(event)
  const level = typeof how.level === "function" ? how.level(event) : (how.level ?? "info")
  return { list: how.list, entry: { ...event, level, msg } }
}
