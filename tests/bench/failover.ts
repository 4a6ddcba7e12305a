/**
 * Failover time: a 3-node cluster, S sessions each with a bot acting every
 * `paceMs` through a front door (players behind a load balancer); SIGKILL
 * the node that owns the most sessions and measure, for each session it
 * owned, the time from the SIGKILL to the session acting again. Then check
 * that every acknowledged action is in the state exactly once.
 *
 *   bun tests/bench/failover.ts [sessions=30] [paceMs=20] [game=tally|counter]
 *
 * The default game is "tally", the counter with "replicated" durability: only
 * there does the framework promise that a crash loses no acknowledged action
 * ("local" acknowledges before any replica has the change).
 */
import { startFrontDoor } from "../../framework/cli/front-door.ts"
import { TestCluster } from "../support/cluster.ts"
import { waitUntil } from "../support/wait.ts"
import { createSessions, type GameName, registryOwners, startBots } from "./bots.ts"
import { percentiles, round } from "./stats.ts"

export interface FailoverResult {
  sessions: number
  game: GameName
  /** Sessions the killed node owned. */
  moved: number
  /** Of those, how many never acted again within the time limit. */
  stalled: number
  backMs: { p50: number; max: number }
  acked: number
  lost: number
  duplicated: number
  inDoubt: number
}

export async function measureFailover(sessions = 30, paceMs = 20, game: GameName = "tally"): Promise<FailoverResult> {
  const c = await TestCluster.start(3)
  const door = startFrontDoor(0, "127.0.0.1", () => c.live.map((n) => n.url))
  let bots: Awaited<ReturnType<typeof startBots>> | undefined
  try {
    const ids = await createSessions(c, sessions, game)
    // After an action that straddled the kill, no think time: the next ack then
    // measures when the session acts again, not the bot's pause.
    let goneAt = Number.POSITIVE_INFINITY
    bots = await startBots(door.url, ids, game, (a) => (a.sent < goneAt && a.at > goneAt ? 0 : paceMs))
    await bots.progressed(3)

    const owners = await registryOwners(c.nodes[0]!.url)
    const nodeIds = await Promise.all(c.nodes.map((n) => c.idOf(n)))
    const owned = (nid: string) => ids.filter((id) => owners.get(id)?.owner === nid)
    const victim = [0, 1, 2].sort((x, y) => owned(nodeIds[y]!).length - owned(nodeIds[x]!).length)[0]!
    const moved = new Set(owned(nodeIds[victim]!))

    const killedAt = performance.now()
    await c.nodes[victim]!.kill()
    goneAt = performance.now()
    // Only an action sent after the process is gone proves the new owner runs the
    // session: an ack already in flight from the dead node may still arrive late.
    const backAt = (i: number) => bots!.bots[i]!.acks.find((a) => a.sent >= goneAt)?.at
    const watched = ids.flatMap((id, i) => (moved.has(id) ? [i] : []))
    await waitUntil(() => watched.every((i) => backAt(i) !== undefined), "every session of the killed node acts again", { timeoutMs: 20_000 }).catch(() => {})
    const back = watched.flatMap((i) => (backAt(i) === undefined ? [] : [backAt(i)! - killedAt]))
    const stalled = watched.length - back.length
    // Everyone keeps playing a little on the survivors before the books are checked.
    if (!stalled) await bots.progressed(3, 15_000).catch(() => {})
    const check = await bots.stopAndVerify()
    return {
      sessions,
      game,
      moved: moved.size,
      stalled,
      backMs: { p50: percentiles(back).p50, max: stalled ? Number.POSITIVE_INFINITY : round(Math.max(...back)) },
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
  console.log(JSON.stringify(await measureFailover(Number(s ?? 30), Number(pace ?? 20), (game ?? "tally") as GameName)))
}
