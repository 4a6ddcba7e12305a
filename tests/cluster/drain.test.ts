import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { type GameSession, createSession, join } from "batonjs/client"
import type counter from "../../app/games/counter.ts"
import { TestCluster } from "../support/cluster.ts"
import { waitUntil } from "../support/wait.ts"

let c: TestCluster
const players: GameSession<typeof counter>[] = []
beforeAll(async () => {
  c = await TestCluster.start(3, { BATON_ADMIN_TOKEN: "admin-token" })
})
afterAll(async () => {
  for (const p of players) p.close()
  await c.stopAll()
})

const owners = async (ids: string[]) => {
  const out = new Map<string, string>()
  for (const id of ids) {
    const x = (await (await fetch(`${c.live[0]!.url}/cluster/sessions/${id}`)).json()) as { entry: { owner: string; epoch: number } | null }
    if (x.entry) out.set(id, `${x.entry.owner}@${x.entry.epoch}`)
  }
  return out
}

describe("graceful handoff (drain)", () => {
  test("SIGTERM hands every session to another node; players keep playing with nothing lost", async () => {
    const ids: string[] = []
    for (let i = 0; i < 24; i++) ids.push((await createSession({ url: c.nodes[i % 3]!.url, game: "counter" })).id)
    const victim = c.nodes[0]!
    const victimId = await c.idOf(victim)
    await waitUntil(async () => (await owners(ids)).size === ids.length, "registry knows every session")
    // Two players per session: one connected to the node that will stop, one to another node (kept there,
    // direct: false: this is about relays following the move, not the SDK moving to the owner).
    for (const id of ids) {
      players.push(await join<typeof counter>({ url: victim.url, session: id, player: "on-victim", backoffMs: 20, maxBackoffMs: 200 }))
      players.push(await join<typeof counter>({ url: c.nodes[1]!.url, session: id, player: "elsewhere", backoffMs: 20, maxBackoffMs: 200, direct: false }))
    }
    // Every player acts continuously while the node drains, at a player's pace (an action every
    // 20 ms: 48 players in a closed loop would only load the machine).
    let stop = false
    const acked = new Map<GameSession<typeof counter>, number>()
    const loops = players.map(async (p) => {
      while (!stop) {
        await p.act("inc", { by: 1 })
        acked.set(p, (acked.get(p) ?? 0) + 1)
        await Bun.sleep(20)
      }
    })
    await waitUntil(() => players.every((p) => (acked.get(p) ?? 0) >= 3), "everyone has acted")
    const before = await owners(ids)
    const onVictim = [...before.values()].filter((o) => o.startsWith(victimId)).length
    expect(onVictim).toBeGreaterThan(0)
    const disconnects: string[] = []
    for (const p of players) if (p.player === "elsewhere") p.onStatus((s) => disconnects.push(s))

    expect(await victim.stop()).toBe(0)
    expect(victim.eventsOf("drained")).toEqual([expect.objectContaining({ sessions: onVictim, moved: onVictim, failed: 0, ms: expect.any(Number) })])

    // Keep playing a little on the new owners, then stop and check every acknowledged action counted once.
    const after = await waitUntil(async () => {
      const o = await owners(ids)
      return [...o.values()].every((x) => !x.startsWith(victimId)) ? o : undefined
    }, "no session is owned by the stopped node")
    for (const id of ids) {
      if (before.get(id)?.startsWith(victimId)) expect(Number(after.get(id)?.split("@")[1])).toBe(Number(before.get(id)?.split("@")[1]) + 1)
      else expect(after.get(id)).toBe(before.get(id) as string)
    }
    const mark = new Map(players.map((p) => [p, acked.get(p) ?? 0]))
    await waitUntil(() => players.every((p) => (acked.get(p) ?? 0) >= (mark.get(p) ?? 0) + 2), "everyone acts again after the move", { timeoutMs: 15_000 }).catch((e) => {
      for (const [i, p] of players.entries()) if ((acked.get(p) ?? 0) < (mark.get(p) ?? 0) + 2) console.log("STALLED", i, p.player, p.id, p.status, p.pendingCount, before.get(p.id), after.get(p.id))
      throw e
    })
    stop = true
    await Promise.all(loops)
    for (let i = 0; i < ids.length; i++) {
      const a = players[2 * i]!
      const b = players[2 * i + 1]!
      const want = (acked.get(a) ?? 0) + (acked.get(b) ?? 0)
      await waitUntil(() => a.state.total === want && b.state.total === want, `session ${ids[i]} shows ${want}`)
      expect(a.state.players["on-victim"]?.count).toBe(acked.get(a) as number)
      expect(b.state.players.elsewhere?.count).toBe(acked.get(b) as number)
    }
    // Players connected to surviving nodes never saw a disconnect.
    expect(disconnects.filter((s) => s !== "open")).toEqual([])
  })

  test("POST /admin/drain needs the admin token, then drains the node like SIGTERM", async () => {
    const node = c.nodes[2]!
    const denied = await fetch(`${node.url}/admin/drain`, { method: "POST" })
    expect(denied.status).toBe(401)
    const { id } = await createSession({ url: node.url, game: "counter" })
    const ok = await fetch(`${node.url}/admin/drain`, { method: "POST", headers: { authorization: "Bearer admin-token" } })
    expect(ok.status).toBe(202)
    expect(await node.proc.exited).toBe(0)
    const survivor = c.nodes[1]!
    const info = (await (await fetch(`${survivor.url}/sessions/${id}`)).json()) as { id: string; status: string }
    expect(info).toMatchObject({ id, status: "open" })
  })
})
