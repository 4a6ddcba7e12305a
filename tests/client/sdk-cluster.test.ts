import { afterAll, describe, expect, test } from "bun:test"
import { createSession, type GameSession, join } from "baton/client"
import { resolve } from "node:path"
import type tally from "../fixtures/app/tally.ts"
import { TestCluster } from "../support/cluster.ts"
import { waitUntil } from "../support/wait.ts"

let cluster: TestCluster | undefined
const open: GameSession[] = []
afterAll(async () => {
  for (const s of open) s.close()
  await cluster?.stopAll()
})

describe("client SDK against a cluster", () => {
  test("a player given only its node's address learns the members and plays on after that node is SIGKILLed", async () => {
    // Issue 15: the SDK took one URL and waited for that address to come back (7-13 s in the chaos runs).
    const c = (cluster = await TestCluster.start(3, {}, resolve(import.meta.dir, "../fixtures/app")))
    const [first] = c.nodes
    const { id } = await createSession({ url: first!.url, game: "tally" })
    const entry = await waitUntil(async () => ((await (await fetch(`${first!.url}/cluster/sessions/${id}`)).json()) as { entry: { owner: string } | null }).entry, "the registry names the session's owner")
    const ids = await Promise.all(c.nodes.map((n) => c.idOf(n)))
    const owner = c.nodes[ids.indexOf(entry.owner)]!
    const a = await join<typeof tally>({ url: owner.url, session: id, player: "ada", backoffMs: 20, maxBackoffMs: 200 })
    open.push(a as unknown as GameSession)
    expect(await a.act("add", { n: 1 })).toBe(1)
    await owner.kill()
    // "replicated": the first ack survives. The failover takes the failure timeout; the next action lands on another node.
    expect(await a.act("add", { n: 2 })).toBe(3)
    expect(a.status).toBe("open")
  }, 60_000)
})
