import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { TestCluster } from "../support/cluster.ts"
import { waitUntil } from "../support/wait.ts"

let c: TestCluster
beforeAll(async () => {
  c = await TestCluster.start(3)
})
afterAll(() => c.stopAll())

const upIds = async (i: number) => (await c.members(c.nodes[i]!)).filter((m) => m.up).map((m) => m.id)

describe("cluster membership (3 real nodes)", () => {
  test("every member sees node-up for every other, and GET /cluster describes them", async () => {
    const ids = await Promise.all(c.nodes.map((n) => c.idOf(n)))
    for (const [i, n] of c.nodes.entries()) {
      const others = ids.filter((_, j) => j !== i)
      for (const id of others) expect(n.eventsOf("member-up", (e) => e.member === id)).toHaveLength(1)
      const members = await c.members(n)
      expect(members.map((m) => m.id).sort()).toEqual([...ids].sort())
      for (const m of members) {
        expect(m).toMatchObject({ status: "ready", version: "0", up: true })
        expect(m.url).toStartWith("http://127.0.0.1:")
        expect(typeof m.sessions).toBe("number")
        expect(m.lastHeardMs).toBeLessThan(1500)
      }
    }
  })

  test("a node added later is seen by all, and it learns every peer (from one of them)", async () => {
    const late = await c.add({ env: { BATON_PEERS: c.urls[0] as string } })
    const lateId = await c.idOf(late)
    await c.waitConverged()
    for (const i of [0, 1, 2]) expect(await upIds(i)).toContain(lateId)
    expect((await c.members(late)).filter((m) => m.up)).toHaveLength(4)
  })

  test("a node stopped gracefully is down for the others at once (it says goodbye)", async () => {
    const leaving = c.nodes[3]!
    const id = await c.idOf(leaving)
    expect(await leaving.stop()).toBe(0)
    await waitUntil(async () => !(await upIds(0)).includes(id) && !(await upIds(1)).includes(id), "the others mark it down", { timeoutMs: 1000 })
    expect((await c.nodes[0]!.waitForEvent("member-down", (e) => e.member === id)).why).toBe("left the cluster")
  })

  test("a killed node (SIGKILL) is detected: the refused redial marks it down", async () => {
    const victim = c.nodes[2]!
    const id = await c.idOf(victim)
    const t0 = performance.now()
    await victim.kill()
    await waitUntil(async () => !(await upIds(0)).includes(id) && !(await upIds(1)).includes(id), "the others mark it down", { timeoutMs: 3000 })
    expect(performance.now() - t0).toBeLessThan(3000)
  })

  test("a silent peer (stopped, not closed) is detected by heartbeats within the failure timeout", async () => {
    const silent = await c.add()
    await c.waitConverged()
    const id = await c.idOf(silent)
    silent.proc.kill("SIGSTOP")
    try {
      await waitUntil(async () => !(await upIds(0)).includes(id), "node 0 marks the silent peer down", { timeoutMs: 5000 })
      expect((await c.nodes[0]!.waitForEvent("member-down", (e) => e.member === id)).why).toMatch(/^silent for \d+ ms$/)
    } finally {
      silent.proc.kill("SIGCONT")
      await silent.kill()
    }
  })
})
