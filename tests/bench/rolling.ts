/**
 * A full rolling restart under load: a 3-node cluster, S sessions of a counter game,
 * each with a bot acting through a front door (think `paceMs` between
 * actions); every node is replaced once by a node of the next app version
 * (TestCluster.roll: start the new one, wait until all see it, SIGTERM the
 * old one). Reports the action latency while the roll runs, the longest an
 * action waited, how often each session moved, and whether any ack was lost
 * or applied twice.
 *
 *   bun tests/bench/rolling.ts [sessions=60] [paceMs=50] [game=counter|tally]
 *
 * "counter" has "local" durability (the default): a graceful roll must lose
 * nothing even so, since each drain hands the final state over.
 */
import { startFrontDoor } from "../../framework/cli/front-door.ts"
import type { NodeEvent } from "../../framework/node/index.ts"
import { TestCluster } from "../support/cluster.ts"
import { waitUntil } from "../support/wait.ts"
import { createSessions, type GameName, registryOwners, startBots } from "./bots.ts"
import { percentiles, round } from "./stats.ts"

export interface RollingResult {
  sessions: number
  game: GameName
  rollMs: number
  /** send → ack under the same load just before the roll (what the roll adds is the difference). */
  beforeMs: { n: number; p50: number; p95: number; p99: number }
  /** send → ack of the actions sent while the roll ran. */
  latencyMs: { n: number; p50: number; p95: number; p99: number }
  longestPauseMs: number
  /** Owner changes per session, from the registry's epochs (each owner change bumps the epoch). */
  movesPerSession: number
  maxMoves: number
  /** The same moves as the draining nodes reported them (cross-check). */
  drainsReported: number
  drainMsPerNode: number[]
  /**
   * Sessions taken over without a handoff (failover, orphans) and peers declared down for
   * silence: nobody crashed, so these mean a loaded node looked dead.
   */
  takeovers: number
  silentDowns: number
  /** Sessions whose registry entry (on the first live node) names no live node once the roll is over. */
  unsettled: string[]
  /** What the nodes' events say about takeovers, down verdicts and fencing (why a session moved without a handoff). */
  incidents: string[]
  acked: number
  lost: number
  duplicated: number
  inDoubt: number
}

/** `warmActs`: acks each bot gets after warming up, the load the roll's latency is compared with (default 20). */
export async function measureRolling(sessions = 60, paceMs = 50, game: GameName = "counter", opts: { warmActs?: number } = {}): Promise<RollingResult> {
  const c = await TestCluster.start(3, { BATON_APP_VERSION: "1" })
  const door = startFrontDoor(0, "127.0.0.1", () => c.live.map((n) => n.url))
  let bots: Awaited<ReturnType<typeof startBots>> | undefined
  try {
    const ids = await createSessions(c, sessions, game)
    bots = await startBots(door.url, ids, game, () => paceMs)
    await bots.progressed(3)
    const warm = performance.now()
    await bots.progressed(opts.warmActs ?? 20)
    const before = await registryOwners(c.live[0]!.url)

    const start = performance.now()
    // A new app version: placement then sends each session to a new node once, not once per restarted node.
    const steps = await c.roll({ BATON_APP_VERSION: "2" })
    const end = performance.now()
    await bots.progressed(3, 30_000).catch(() => {})

    // The registry settles on the new nodes (its copy syncs between nodes, ~100 ms).
    const liveIds = await Promise.all(c.live.map((n) => c.idOf(n)))
    const after = await waitUntil(
      async () => {
        const r = await registryOwners(c.live[0]!.url)
        return ids.every((id) => liveIds.includes(r.get(id)?.owner ?? "")) ? r : undefined
      },
      "every session owned by a new node",
    ).catch(() => registryOwners(c.live[0]!.url))
    const moves = ids.map((id) => (after.get(id)?.epoch ?? 0) - (before.get(id)?.epoch ?? 0))
    const unsettled = ids.filter((id) => !liveIds.includes(after.get(id)?.owner ?? "")).map((id) => `${id}: ${JSON.stringify(after.get(id))}`)
    const latencies = (from: number, to: number) => bots!.bots.flatMap((b) => b.acks.filter((a) => a.sent >= from && a.sent <= to).map((a) => a.at - a.sent))
    const during = latencies(start, end)
    const check = await bots.stopAndVerify()
    const events = c.nodes.flatMap((n) => n.events)
    const takeover = (e: NodeEvent) => e.t === "session-adopted" && !e.via.startsWith("handoff")
    return {
      sessions,
      game,
      rollMs: Math.round(end - start),
      beforeMs: percentiles(latencies(warm, start)),
      latencyMs: percentiles(during),
      longestPauseMs: round(Math.max(0, ...during)),
      movesPerSession: round(moves.reduce((s, m) => s + m, 0) / sessions),
      maxMoves: Math.max(...moves),
      drainsReported: steps.reduce((s, r) => s + r.moved, 0),
      drainMsPerNode: steps.map((r) => r.drainMs),
      takeovers: events.filter(takeover).length,
      silentDowns: events.filter((e) => e.t === "member-down" && e.why.startsWith("silent")).length,
      unsettled,
      incidents: events
        .filter((e) => e.t === "member-down" || e.t === "failover" || e.t === "handoff-failed" || takeover(e) || (e.t === "session-released" && /^fenced|superseded/.test(e.reason)))
        .map((e) => `${new Date(e.time).toISOString().slice(11, 23)} ${e.node} ${e.t} ${JSON.stringify({ ...e, time: undefined, node: undefined, t: undefined })}`)
        .sort(),
      ...check,
    }
  } finally {
    bots?.close()
    door.stop()
    await c.stopAll()
  }
}

if (import.meta.main) {
  const [s, pace, game] = process.argv.slice(2)
  console.log(JSON.stringify(await measureRolling(Number(s ?? 60), Number(pace ?? 50), (game ?? "counter") as GameName)))
}
