import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { type GameSession, join } from "batonjs/client"
import type notes from "../fixtures/app/notes.ts"
import { TestCluster } from "../support/cluster.ts"
import { waitUntil } from "../support/wait.ts"

let c: TestCluster
const players: GameSession[] = []
beforeAll(async () => {
  c = await TestCluster.start(3)
})
afterAll(async () => {
  for (const p of players) p.close()
  await c.stopAll()
})

interface Inspect {
  entry: { owner: string; doc: string; game: string; epoch: number; status: string } | null
  replicaSet: string[]
  holds: boolean
  rev: number | null
}
const inspect = async (i: number, id: string) => (await (await fetch(`${c.nodes[i]!.url}/cluster/sessions/${id}`)).json()) as Inspect
const create = async (i: number, game = "notes") => {
  const res = await fetch(`${c.nodes[i]!.url}/sessions`, { method: "POST", body: JSON.stringify({ game }) })
  expect(res.status).toBe(201)
  return ((await res.json()) as { id: string }).id
}

describe("replication with automerge-repo (3 real nodes, 2 replicas)", () => {
  test("POST /sessions on any node creates the session on its placement owner", async () => {
    const ids = await Promise.all(Array.from({ length: 12 }, (_, i) => create(i % 3)))
    const nodeIds = await Promise.all(c.nodes.map((n) => c.idOf(n)))
    for (const id of ids) {
      const seen = await waitUntil(async () => (await inspect(0, id)).entry ?? undefined, "the registry has it")
      expect(seen.owner).toBe((await inspect(0, id)).replicaSet[0] as string)
      // It runs on its owner only.
      const holders = await Promise.all(c.nodes.map(async (n) => (await fetch(`${n.url}/sessions?local=1`)).json() as Promise<{ sessions: { id: string }[] }>))
      const running = nodeIds.filter((_, i) => holders[i]!.sessions.some((s) => s.id === id))
      expect(running).toEqual([seen.owner])
    }
  })

  test("the registry converges on every node", async () => {
    const ids = await Promise.all(Array.from({ length: 9 }, (_, i) => create(i % 3)))
    await waitUntil(async () => {
      const views = await Promise.all([0, 1, 2].map((i) => Promise.all(ids.map((id) => inspect(i, id)))))
      return views.every((v) => v.every((x, k) => x.entry && JSON.stringify(x.entry) === JSON.stringify(views[0]![k]!.entry)))
    }, "every node has the same entry for every session")
  })

  test("a session document reaches its replicas, and not the other nodes", async () => {
    const id = await create(0)
    const nodeIds = await Promise.all(c.nodes.map((n) => c.idOf(n)))
    const { replicaSet } = await waitUntil(async () => {
      const x = await inspect(0, id)
      return x.entry ? x : undefined
    }, "registry entry")
    expect(replicaSet).toHaveLength(2)
    const owner = c.nodes[nodeIds.indexOf(replicaSet[0]!)]!
    const p = await join<typeof notes>({ url: owner.url, session: id, player: "ada" })
    players.push(p)
    for (let i = 0; i < 20; i++) await p.act("add", { text: `note ${i}` })
    const finalRev = (await (await fetch(`${owner.url}/sessions/${id}`)).json()) as { rev: number }
    // Any node answers for any session (it asks the owner).
    for (const n of c.nodes) expect(((await (await fetch(`${n.url}/sessions/${id}`)).json()) as { rev: number }).rev).toBe(finalRev.rev)
    const all = (await (await fetch(`${c.nodes[2]!.url}/sessions`)).json()) as { sessions: { id: string }[] }
    expect(all.sessions.map((s) => s.id)).toContain(id)
    for (const [i, nodeId] of nodeIds.entries()) {
      if (replicaSet.includes(nodeId))
        await waitUntil(async () => (await inspect(i, id)).rev === finalRev.rev, `replica ${nodeId} catches up to rev ${finalRev.rev}`)
    }
    const outsider = nodeIds.findIndex((nid) => !replicaSet.includes(nid))
    const seen = await inspect(outsider, id)
    expect(seen.entry?.owner).toBe(replicaSet[0] as string) // it knows of the session...
    expect(seen.holds).toBe(false) // ...but never got its document
  })

  test("a player on a non-owner node plays a whole game through the relay", async () => {
    const id = await create(1)
    const nodeIds = await Promise.all(c.nodes.map((n) => c.idOf(n)))
    const owner = await waitUntil(async () => (await inspect(1, id)).entry?.owner, "owner known")
    const others = c.nodes.filter((_, i) => nodeIds[i] !== owner)
    const ada = await join<typeof notes>({ url: others[0]!.url, session: id, player: "ada", direct: false })
    const bob = await join<typeof notes>({ url: others[1]!.url, session: id, player: "bob", direct: false })
    players.push(ada, bob)
    expect([ada.seat, bob.seat].sort()).toEqual([0, 1])
    const events: unknown[] = []
    bob.on("reminder", (d) => events.push(d))
    expect(await ada.act("add", { text: "hi bob" })).toBe(1)
    expect(await bob.act("add", { text: "hi ada" })).toBe(2)
    await ada.act("secret", { value: "ada only" })
    await ada.act("remind", { ms: 20, text: "ping" })
    await waitUntil(() => events.length === 1, "bob gets the timer's event through the relay")
    const refused = (await bob.act("add", { text: "" }).catch((e) => e)) as { code: string }
    expect(refused.code).toBe("invalid_input")
    await bob.act("finish")
    await waitUntil(() => ada.ended && bob.ended, "both see the end")
    expect(ada.result).toEqual({ winner: "bob" })
    expect(ada.state.notes.map((n) => n.text)).toEqual(["hi bob", "hi ada", "ping"])
    expect(JSON.stringify(bob.state)).not.toContain("ada only")
    const stats = await Promise.all(others.map(async (n) => ((await (await fetch(`${n.url}/cluster`)).json()) as { relayedOut: number }).relayedOut))
    expect(stats.every((s) => s >= 1)).toBe(true)
  })
})
