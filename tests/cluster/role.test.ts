import { afterAll, describe, expect, test } from "bun:test"
import { TestCluster } from "../support/cluster.ts"
import { waitUntil } from "../support/wait.ts"

let c: TestCluster | undefined
afterAll(() => c?.stopAll())

const following = async (cluster: TestCluster) =>
  Promise.all(cluster.nodes.map(async (n) => ((await (await fetch(`${n.url}/cluster`)).json()) as { following: number }).following))

describe("a replica follows what changes in the registry, not a full scan", () => {
  test("each session's replica takes up its document, and lets go when the session is collected", async () => {
    // Sessions end 8 s after their last action (time enough to be followed on a loaded machine) and are
    // collected 0.3 s later.
    c = await TestCluster.start(3, { BATON_IDLE_MS: "8000", BATON_LINGER_MS: "300", BATON_SWEEP_MS: "100" })
    const cluster = c
    const sessions = 12
    await Promise.all(
      Array.from({ length: sessions }, (_, i) => fetch(`${cluster.nodes[i % 3]!.url}/sessions`, { method: "POST", body: JSON.stringify({ game: "counter" }) })),
    )
    // 3 nodes, replica sets of 2: each session has one replica besides its owner.
    const held = await waitUntil(async () => {
      const f = await following(cluster)
      return f.reduce((a, b) => a + b, 0) === sessions ? f : undefined
    }, "every session followed by its one replica")
    expect(held.filter((n) => n > 0).length).toBeGreaterThan(1)
    await waitUntil(async () => (await following(cluster)).every((n) => n === 0), "replicas let go of the collected sessions", { timeoutMs: 20_000 })
    const left = (await (await fetch(`${cluster.nodes[0]!.url}/cluster/registry`)).json()) as { sessions: unknown[] }
    expect(left.sessions).toEqual([])
  })
})
