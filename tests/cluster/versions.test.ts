import { afterAll, describe, expect, test } from "bun:test"
import { resolve } from "node:path"
import { createSession, join } from "baton/client"
import { TestCluster } from "../support/cluster.ts"
import { waitUntil } from "../support/wait.ts"

let c: TestCluster | undefined
afterAll(() => c?.stopAll())

describe("a new version that cannot load an old state", () => {
  test("the session stays with a node of the old version, and the node says why", async () => {
    const v = (n: number) => ({ BATON_TEST_GAME_VERSION: String(n), BATON_APP_VERSION: String(n) })
    c = await TestCluster.start(2, v(1), resolve(import.meta.dir, "../fixtures/strict"))
    const cluster = c
    const ids = await Promise.all(cluster.nodes.map((n) => cluster.idOf(n)))
    // A session on node 0 (placement decides: create until one lands there).
    let id = ""
    while (!id) {
      const s = await createSession({ url: cluster.nodes[0]!.url, game: "strict" })
      const owner = await waitUntil(async () => ((await (await fetch(`${cluster.nodes[0]!.url}/cluster/sessions/${s.id}`)).json()) as { entry: { owner: string } | null }).entry?.owner, "entry")
      if (owner === ids[0]) id = s.id
    }
    const player = await join({ url: cluster.nodes[1]!.url, session: id, player: "ada" })
    await player.act("add", { n: 5 })
    const newer = await cluster.add({ env: v(2) })
    const newerId = await cluster.idOf(newer)
    await cluster.waitConverged()

    // Draining node 0 offers the session to the new version first (placement prefers it); it refuses.
    expect(await cluster.nodes[0]!.stop()).toBe(0)
    const [refusal] = cluster.nodes[0]!.eventsOf("handoff-refused")
    expect(refusal).toMatchObject({ session: id, target: newerId })
    expect(refusal?.why).toContain("no migrate[1]")
    // ...and it went to the node that still runs version 1, state intact.
    const where = (await (await fetch(`${cluster.nodes[1]!.url}/cluster/sessions/${id}`)).json()) as { entry: { owner: string; epoch: number } }
    await waitUntil(async () => ((await (await fetch(`${cluster.nodes[1]!.url}/cluster/sessions/${id}`)).json()) as { entry: { owner: string } }).entry.owner === ids[1], "node 1 owns it")
    expect(where.entry.epoch).toBeGreaterThanOrEqual(1)
    await player.act("add", { n: 2 })
    await waitUntil(() => (player.state as { score?: number }).score === 7, "the v1 state carries on")
    player.close()
  })
})
