import { afterAll, describe, expect, test } from "bun:test"
import { createSession, join } from "baton/client"
import type tally from "../fixtures/app/tally.ts"
import { TestCluster } from "../support/cluster.ts"
import { waitUntil } from "../support/wait.ts"

let c: TestCluster | undefined
afterAll(() => c?.stopAll())

describe("fencing by epoch", () => {
  test("an owner cut off (SIGSTOP) and taken over stops running the session when it wakes; no acknowledged action is lost", async () => {
    c = await TestCluster.start(3, { BATON_FAILURE_MS: "1000" })
    const cluster = c
    const ids = await Promise.all(cluster.nodes.map((n) => cluster.idOf(n)))
    const { id } = await createSession({ url: cluster.nodes[0]!.url, game: "tally" })
    const owner = await waitUntil(async () => ((await (await fetch(`${cluster.nodes[0]!.url}/cluster/sessions/${id}`)).json()) as { entry: { owner: string } | null }).entry?.owner, "owner")
    const ownerNode = cluster.nodes[ids.indexOf(owner)]!
    const edge = cluster.nodes.find((n) => n !== ownerNode)!
    const player = await join<typeof tally>({ url: edge.url, session: id, player: "ada", backoffMs: 20, maxBackoffMs: 200 })
    let acked = 0
    let stop = false
    const loop = (async () => {
      while (!stop) {
        await player.act("add", { n: 1 })
        acked++
      }
    })()
    await waitUntil(() => acked >= 20, "some actions")

    ownerNode.proc.kill("SIGSTOP")
    // The others declare it down (silent, and its /healthz does not answer) and one takes the session over.
    const taker = await waitUntil(async () => {
      const e = ((await (await fetch(`${edge.url}/cluster/sessions/${id}`)).json()) as { entry: { owner: string; epoch: number } }).entry
      return e.owner !== owner ? e : undefined
    }, "another node owns the session", { timeoutMs: 15_000 })
    expect(taker.epoch).toBeGreaterThanOrEqual(2)
    const before = acked
    await waitUntil(() => acked >= before + 10, "the player goes on with the new owner", { timeoutMs: 15_000 })

    ownerNode.proc.kill("SIGCONT")
    // Woken up, the old owner learns of the newer epoch and lets go of the session.
    const released = await ownerNode.waitForEvent("session-released", (e) => e.session === id, 15_000)
    expect(released.reason).toContain("fenced")
    stop = true
    await loop
    await waitUntil(() => player.state.total === acked, `the state holds every acknowledged action (${acked}, has ${player.state.total})`)
    player.close()
  }, 60_000)
})
