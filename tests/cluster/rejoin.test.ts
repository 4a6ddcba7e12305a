import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { TestCluster } from "../support/cluster.ts"
import { waitUntil } from "../support/wait.ts"

let c: TestCluster
beforeAll(async () => {
  c = await TestCluster.start(2)
})
afterAll(() => c.stopAll())

describe("link tokens name the node dialled", () => {
  test("a node restarted at the same URL (a new id) is dialled under its new id and rejoins", async () => {
    const old = c.nodes[1]!
    const oldId = await c.idOf(old)
    await old.kill()
    const fresh = await c.add({ port: old.port })
    const freshId = await c.idOf(fresh)
    expect(freshId).not.toBe(oldId)
    await waitUntil(async () => (await c.members(c.nodes[0]!)).some((m) => m.id === freshId && m.up && m.status === "ready"), "node 0 sees the new node up", { timeoutMs: 20_000 })
    await c.waitConverged(20_000)
    expect((await c.members(c.nodes[0]!)).find((m) => m.id === oldId)?.up).toBe(false)
  })
})
