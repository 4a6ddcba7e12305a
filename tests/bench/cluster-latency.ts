/**
 * What the cluster costs a player: action latency for a player connected to
 * the session's owner vs one relayed through another node, and how far a
 * replica's copy lags the owner's state under load.
 *
 *   bun tests/bench/cluster-latency.ts [seconds=10] [sessions=50]
 */
import { type GameSession, createSession, join } from "batonjs/client"
import type counter from "../../app/games/counter.ts"
import { TestCluster } from "../support/cluster.ts"
import { percentiles } from "./stats.ts"

const seconds = Number(process.argv[2] ?? 10)
const sessionCount = Number(process.argv[3] ?? 50)

const c = await TestCluster.start(3, { BATON_FRAMES_PER_SECOND: "1000000" })
try {
  const ids = await Promise.all(c.nodes.map((n) => c.idOf(n)))
  const direct: number[] = []
  const relayed: number[] = []
  const players: GameSession<typeof counter>[] = []
  const loops: Promise<void>[] = []
  const until = performance.now() + seconds * 1000
  for (let s = 0; s < sessionCount; s++) {
    const { id } = await createSession({ url: c.nodes[s % 3]!.url, game: "counter" })
    const owner = ((await (await fetch(`${c.nodes[0]!.url}/cluster/sessions/${id}`)).json()) as { entry: { owner: string } | null }).entry?.owner
    const ownerIndex = owner ? ids.indexOf(owner) : -1
    // Two players on the owner, two relayed through the other nodes.
    for (let p = 0; p < 4; p++) {
      const onOwner = p < 2 && ownerIndex >= 0
      const node = onOwner ? c.nodes[ownerIndex]! : c.nodes[(Math.max(0, ownerIndex) + 1 + (p % 2)) % 3]!
      const player = await join<typeof counter>({ url: node.url, session: id, player: `p${p}`, direct: false })
      players.push(player)
      const into = onOwner ? direct : relayed
      loops.push(
        (async () => {
          while (performance.now() < until) {
            const t0 = performance.now()
            await player.act("inc", { by: 1 })
            into.push(performance.now() - t0)
          }
        })(),
      )
    }
  }
  await Promise.all(loops)
  for (const p of players) p.close()
  const lags = await Promise.all(c.nodes.map(async (n) => ((await (await fetch(`${n.url}/cluster`)).json()) as { replicaLagMs: unknown }).replicaLagMs))
  const total = direct.length + relayed.length
  console.log(JSON.stringify({
    setup: `3 nodes, replicas=2, ${sessionCount} counter sessions x 4 players (2 on the owner, 2 relayed), closed loop, ${seconds} s, all in one load process`,
    actionsPerSecond: Math.round(total / seconds),
    directMs: percentiles(direct),
    relayedMs: percentiles(relayed),
    replicaLagMsPerNode: lags,
  }, null, 2))
} finally {
  await c.stopAll()
}
