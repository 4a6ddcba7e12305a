/**
 * Drain time: N sessions on one node of a 2-node cluster, then SIGTERM it and
 * read its "drained" event (total time, pause per session p50/p99).
 *
 *   bun tests/bench/drain.ts [sessions=100] [players per session=1]
 */
import { createSession, type GameSession, join } from "batonjs/client"
import type counter from "../../app/games/counter.ts"
import { TestCluster } from "../support/cluster.ts"
import { waitUntil } from "../support/wait.ts"
import { registryOwners } from "./bots.ts"

/** Concurrent HTTP requests while setting up (one by one, 1,000 sessions take minutes). */
const BATCH = 100

export async function measureDrain(sessions: number, withPlayers = true) {
  const c = await TestCluster.start(2)
  try {
    const [a, b] = c.nodes as [NonNullable<(typeof c.nodes)[0]>, NonNullable<(typeof c.nodes)[0]>]
    const aId = await c.idOf(a)
    // Placement spreads new sessions over both nodes: create in parallel rounds until A owns
    // `sessions`. A round never creates more than A still lacks, so A ends with exactly that many.
    // (Starting A alone and adding B later is faster, but B then takes up all its replicas at
    // once and goes silent for seconds: not the steady state a drain should start from.)
    let mine: string[] = []
    for (let round = 0; mine.length < sessions && round < 200; round++) {
      const k = Math.min(BATCH, sessions - mine.length)
      await Promise.all(Array.from({ length: k }, (_, i) => createSession({ url: (i % 2 ? b : a).url, game: "counter" })))
      mine = [...(await registryOwners(a.url))].filter(([, e]) => e.owner === aId).map(([id]) => id)
    }
    if (mine.length !== sessions) throw new Error(`node A owns ${mine.length} sessions, wanted ${sessions}`)
    // Drain a settled cluster: B holds its replica of every session of A.
    await waitUntil(
      async () => ((await (await fetch(`${b.url}/cluster`)).json()) as { following: number }).following >= sessions,
      "B follows every session of A",
      { timeoutMs: 60_000 },
    )
    const players: GameSession<typeof counter>[] = []
    if (withPlayers)
      for (let i = 0; i < mine.length; i += BATCH)
        players.push(...(await Promise.all(mine.slice(i, i + BATCH).map((id) => join<typeof counter>({ url: b.url, session: id, player: "p" })))))
    await Promise.all(players.map((p) => p.act("inc", { by: 1 })))
    await a.stop()
    const [drained] = a.eventsOf("drained")
    for (const p of players) p.close()
    return {
      sessions,
      moved: drained?.moved ?? Number.NaN,
      drainMs: drained?.ms ?? Number.NaN,
      pauseP50: drained?.pauseP50 ?? Number.NaN,
      pauseP99: drained?.pauseP99 ?? Number.NaN,
      failed: drained?.failed ?? Number.NaN,
    }
  } finally {
    await c.stopAll()
  }
}

if (import.meta.main) console.log(JSON.stringify(await measureDrain(Number(process.argv[2] ?? 100), process.argv[3] !== "0")))
