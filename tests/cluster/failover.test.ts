import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { type GameSession, createSession, join } from "baton/client"
import { type FrontDoor, startFrontDoor } from "../../framework/cli/front-door.ts"
import type tally from "../fixtures/app/tally.ts"
import { TestCluster } from "../support/cluster.ts"
import { waitUntil } from "../support/wait.ts"

let c: TestCluster
let door: FrontDoor
const players: GameSession<typeof tally>[] = []
beforeAll(async () => {
  c = await TestCluster.start(3)
  door = startFrontDoor(0, "127.0.0.1", () => c.live.map((n) => n.url))
})
afterAll(async () => {
  for (const p of players) p.close()
  door.stop()
  await c.stopAll()
})

describe("failover (SIGKILL) under replicated durability", () => {
  test("the next node of each session's ranking takes it over; no acknowledged action is lost or applied twice", async () => {
    const ids: string[] = []
    for (let i = 0; i < 12; i++) ids.push((await createSession({ url: c.nodes[i % 3]!.url, game: "tally" })).id)
    const ownerOf = async (id: string) =>
      ((await (await fetch(`${c.live[0]!.url}/cluster/sessions/${id}`)).json()) as { entry: { owner: string; epoch: number } | null }).entry
    await waitUntil(async () => (await Promise.all(ids.map(ownerOf))).every(Boolean), "registry knows every session")
    const nodeIds = await Promise.all(c.nodes.map((n) => c.idOf(n)))
    const owners = await Promise.all(ids.map(ownerOf))
    const count = (nid: string) => owners.filter((o) => o?.owner === nid).length
    const victimIndex = [0, 1, 2].sort((a, b) => count(nodeIds[b]!) - count(nodeIds[a]!))[0]!
    const victimId = nodeIds[victimIndex]!
    const survivor = c.nodes[(victimIndex + 1) % 3]!
    // Per session: one player on a surviving node (relayed), one through the front door (may land anywhere).
    for (const id of ids) {
      players.push(await join<typeof tally>({ url: survivor.url, session: id, player: "steady", backoffMs: 20, maxBackoffMs: 200 }))
      players.push(await join<typeof tally>({ url: door.url, session: id, player: "roamer", backoffMs: 20, maxBackoffMs: 200 }))
    }
    let stop = false
    const acked = new Map<GameSession<typeof tally>, number>()
    // When each session first acknowledged an action *sent after* the kill.
    const backAt = new Map<string, number>()
    let killedAt = Number.POSITIVE_INFINITY
    const loops = players.map(async (p) => {
      while (!stop) {
        const sentAt = performance.now()
        await p.act("add", { n: 1 })
        acked.set(p, (acked.get(p) ?? 0) + 1)
        if (sentAt > killedAt && !backAt.has(p.id)) backAt.set(p.id, performance.now())
      }
    })
    await waitUntil(() => players.every((p) => (acked.get(p) ?? 0) >= 5), "every bot has acted")

    killedAt = performance.now()
    await c.nodes[victimIndex]!.kill()
    const moved = ids.filter((_, i) => owners[i]?.owner === victimId)
    expect(moved.length).toBeGreaterThan(0)
    // Failover time: from SIGKILL to each moved session acknowledging an action again.
    await waitUntil(() => moved.every((id) => backAt.has(id)), "every moved session acts again", { timeoutMs: 15_000 }).catch((e) => {
      const telling = new Set(["failover", "session-adopted", "session-released", "member-down", "handoff-failed", "handler-failed", "request-failed"])
      for (const n of c.live) console.log(n.url, JSON.stringify(n.events.filter((e) => telling.has(e.t))))
      console.log("stalled", moved.filter((id) => !backAt.has(id)))
      throw e
    })
    const failoverMs = Math.max(...moved.map((id) => (backAt.get(id) as number) - killedAt))
    console.log(`failover: ${moved.length} sessions, the last acting again ${Math.round(failoverMs)} ms after SIGKILL`)
    for (const id of moved) {
      const o = await waitUntil(async () => {
        const e = await ownerOf(id)
        return e && e.owner !== victimId ? e : undefined
      }, "a new owner in the registry")
      expect(o.epoch).toBeGreaterThanOrEqual(2)
    }

    // The takeovers are counted where they happened.
    const counts = await Promise.all(
      c.live.map(async (n) => Number(/^baton_failover_seconds_count (\d+)$/m.exec(await (await fetch(`${n.url}/metrics`)).text())?.[1] ?? 0)),
    )
    expect(counts.reduce((a, b) => a + b, 0)).toBe(moved.length)
    const mark = new Map(players.map((p) => [p, acked.get(p) ?? 0]))
    await waitUntil(() => players.every((p) => (acked.get(p) ?? 0) >= (mark.get(p) ?? 0) + 3), "every bot keeps playing", { timeoutMs: 15_000 })
    stop = true
    await Promise.all(loops)
    for (let i = 0; i < ids.length; i++) {
      const a = players[2 * i]!
      const b = players[2 * i + 1]!
      const want = (acked.get(a) ?? 0) + (acked.get(b) ?? 0)
      // Exactly the acknowledged actions: none lost (replicated), none twice (action ids).
      await waitUntil(() => a.state.total === want, `session ${ids[i]} total ${want} (has ${a.state.total})`)
      expect(a.state.players.steady).toBe(acked.get(a) as number)
      expect(a.state.players.roamer).toBe(acked.get(b) as number)
    }
  })
})
