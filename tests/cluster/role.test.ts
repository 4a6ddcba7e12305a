import { afterAll, describe, expect, test } from "bun:test"
import { type GameSession, createSession, join } from "batonjs/client"
import type notes from "../fixtures/app/notes.ts"
import { TestCluster } from "../support/cluster.ts"
import { waitUntil } from "../support/wait.ts"

let c: TestCluster | undefined
const players: GameSession<typeof notes>[] = []
afterAll(async () => {
  for (const p of players) p.close()
  await c?.stopAll()
})

const following = async (cluster: TestCluster) =>
  Promise.all(cluster.nodes.map(async (n) => ((await (await fetch(`${n.url}/cluster`)).json()) as { following: number }).following))

describe("a replica follows what changes in the registry, not a full scan", () => {
  test("each session's replica takes up its document, and lets go when the session is collected", async () => {
    // Each session is played until every replica holds its copy (however long a loaded machine
    // takes), then ended by its player; it is collected 0.3 s after its end.
    c = await TestCluster.start(3, { BATON_LINGER_MS: "300", BATON_SWEEP_MS: "100" })
    const cluster = c
    const sessions = 12
    await Promise.all(
      Array.from({ length: sessions }, async (_, i) => {
        const url = cluster.nodes[i % 3]!.url
        const p = await join<typeof notes>({ url, session: (await createSession({ url, game: "notes" })).id, player: "ada" })
        players.push(p)
        await p.act("add", { text: "hello" })
      }),
    )
    // 3 nodes, replica sets of 2: each session has one replica besides its owner.
    const held = await waitUntil(async () => {
      const f = await following(cluster)
      return f.reduce((a, b) => a + b, 0) === sessions ? f : undefined
    }, "every session followed by its one replica", { timeoutMs: 20_000 })
    expect(held.filter((n) => n > 0).length).toBeGreaterThan(1)
    for (const p of players) await p.act("finish")
    await waitUntil(async () => (await following(cluster)).every((n) => n === 0), "replicas let go of the collected sessions", { timeoutMs: 20_000 })
    const left = (await (await fetch(`${cluster.nodes[0]!.url}/cluster/registry`)).json()) as { sessions: unknown[] }
    expect(left.sessions).toEqual([])
  })
})
