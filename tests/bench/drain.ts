/**
 * Drain time: N sessions on one node of a 2-node cluster, then SIGTERM it and
 * read its drain report (total time, pause per session p50/p99).
 *
 *   bun tests/bench/drain.ts [sessions=100] [players per session=1]
 */
import { createSession, type GameSession, join } from "baton/client"
import type counter from "../../app/games/counter.ts"
import { TestCluster } from "../support/cluster.ts"
import { waitUntil } from "../support/wait.ts"

export async function measureDrain(sessions: number, withPlayers = true) {
  const c = await TestCluster.start(2)
  try {
    const [a, b] = c.nodes as [NonNullable<(typeof c.nodes)[0]>, NonNullable<(typeof c.nodes)[0]>]
    const aId = await c.idOf(a)
    // Create until node A owns `sessions` (placement spreads them; keep A's).
    const mine: string[] = []
    while (mine.length < sessions) {
      const s = await createSession({ url: a.url, game: "counter" })
      const owner = await waitUntil(async () => ((await (await fetch(`${a.url}/cluster/sessions/${s.id}`)).json()) as { entry: { owner: string } | null }).entry?.owner, "registry entry")
      if (owner === aId) mine.push(s.id)
    }
    const players: GameSession<typeof counter>[] = []
    if (withPlayers) for (const id of mine) players.push(await join<typeof counter>({ url: b.url, session: id, player: "p" }))
    for (const p of players) await p.act("inc", { by: 1 })
    await a.stop()
    const line = a.logs.find((l) => String(l.msg).startsWith("moved "))
    for (const p of players) p.close()
    return { sessions, drainMs: Number(/in (\d+) ms/.exec(String(line?.msg))?.[1]), pauseP50: line?.pauseP50, pauseP99: line?.pauseP99, failed: line?.failed }
  } finally {
    await c.stopAll()
  }
}

if (import.meta.main) console.log(JSON.stringify(await measureDrain(Number(process.argv[2] ?? 100), process.argv[3] !== "0")))
