import { describe, expect, test } from "bun:test"
import { rank, replicaSet } from "../../framework/cluster/index.ts"

const members = (ids: string[], version = "1") => ids.map((id) => ({ id, version }))
const sessions = Array.from({ length: 1000 }, (_, i) => `s-${i.toString(36)}-${(i * 7919).toString(36)}`)

describe("rendezvous placement", () => {
  test("1,000 sessions on 3 nodes: the busiest has at most 1.2x the average", () => {
    const nodes = members(["n-a", "n-b", "n-c"])
    const load = new Map<string, number>()
    for (const s of sessions) {
      const owner = rank(s, nodes)[0]?.id as string
      load.set(owner, (load.get(owner) ?? 0) + 1)
    }
    expect(load.size).toBe(3)
    expect(Math.max(...load.values())).toBeLessThanOrEqual(1.2 * (1000 / 3))
  })

  test("a member joining or leaving moves only the sessions whose owner changed", () => {
    const before = members(["n-a", "n-b", "n-c"])
    const after = members(["n-a", "n-b", "n-c", "n-d"])
    let moved = 0
    for (const s of sessions) {
      const was = rank(s, before)[0]?.id
      const now = rank(s, after)[0]?.id
      if (was !== now) {
        moved++
        expect(now).toBe("n-d") // a session only ever moves to the newcomer
      }
    }
    expect(moved).toBeGreaterThan(150)
    expect(moved).toBeLessThan(350)
    const left = members(["n-a", "n-c"])
    for (const s of sessions) {
      const was = rank(s, before)[0]?.id
      if (was !== "n-b") expect(rank(s, left)[0]?.id).toBe(was as string)
    }
  })

  test("the newest app version is preferred; the replica set is the head of the ranking", () => {
    const mixed = [...members(["n-a", "n-b"], "1.9.0"), ...members(["n-c"], "1.10.0")]
    for (const s of sessions.slice(0, 50)) expect(rank(s, mixed)[0]?.id).toBe("n-c")
    const set = replicaSet("s-1", members(["n-a", "n-b", "n-c"]), 2)
    expect(set.map((m) => m.id)).toEqual(rank("s-1", members(["n-a", "n-b", "n-c"])).slice(0, 2).map((m) => m.id))
    expect(replicaSet("s-1", members(["n-a", "n-b", "n-c"]), "all")).toHaveLength(3)
  })
})
