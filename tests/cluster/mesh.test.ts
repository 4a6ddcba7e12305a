import { describe, expect, test } from "bun:test"
import { FULL_MESH_UP_TO, meshNeighbours } from "../../framework/cluster/index.ts"

const ids = (n: number, tag = "a") => Array.from({ length: n }, (_, i) => `node-${tag}-${(i * 2654435761).toString(36)}-${i}`)

/** Every node's neighbours, as each node computes them from the same list. */
const mesh = (members: string[]) => new Map(members.map((m) => [m, meshNeighbours(m, members)]))

/** How many hops from `from` to the farthest node, or Infinity when some cannot be reached. */
function eccentricity(graph: Map<string, Set<string>>, from: string, cut = new Set<string>()): number {
  const dist = new Map([[from, 0]])
  const queue = [from]
  while (queue.length) {
    const at = queue.shift() as string
    for (const next of graph.get(at) ?? []) {
      if (dist.has(next) || cut.has(`${at}|${next}`)) continue
      dist.set(next, (dist.get(at) as number) + 1)
      queue.push(next)
    }
  }
  return dist.size === graph.size ? Math.max(...dist.values()) : Number.POSITIVE_INFINITY
}

describe("the registry's sync mesh", () => {
  test(`up to ${FULL_MESH_UP_TO} members it is complete, as before the mesh`, () => {
    for (let n = 1; n <= FULL_MESH_UP_TO; n++) {
      const members = ids(n)
      for (const [m, peers] of mesh(members)) expect([...peers].sort()).toEqual(members.filter((x) => x !== m).sort())
    }
  })

  test("both ends of every edge agree, for sizes from 9 to 1,000", () => {
    for (const n of [9, 10, 17, 33, 64, 65, 100, 257]) {
      const g = mesh(ids(n, `s${n}`))
      for (const [m, peers] of g) for (const p of peers) expect(g.get(p)?.has(m)).toBe(true)
      for (const [m, peers] of g) expect(peers.has(m)).toBe(false)
    }
  })

  test("it is connected, its degree grows like log N, and a change reaches everyone in a few hops", () => {
    for (const n of [9, 20, 50, 100, 300, 1000]) {
      const members = ids(n, `c${n}`)
      const g = mesh(members)
      const degrees = [...g.values()].map((p) => p.size)
      const mean = degrees.reduce((a, b) => a + b, 0) / n
      expect(mean).toBeLessThanOrEqual(Math.max(8, 2 + 2 * Math.log2(n)))
      expect(Math.min(...degrees)).toBeGreaterThanOrEqual(2)
      // The diameter, from a sample of starting points (every one of them at 1,000 nodes is slow for a unit test).
      const worst = Math.max(...members.filter((_, i) => i % Math.ceil(n / 25) === 0).map((m) => eccentricity(g, m)))
      expect(worst).toBeLessThanOrEqual(Math.ceil(Math.log2(n)) + 2)
    }
    // At 100 nodes each node syncs the registry with about a tenth of its peers.
    const hundred = mesh(ids(100, "h"))
    const mean = [...hundred.values()].reduce((a, p) => a + p.size, 0) / 100
    expect(mean).toBeGreaterThan(4)
    expect(mean).toBeLessThan(14)
  })

  test("it stays connected with any one node gone and any one of its edges cut", () => {
    const members = ids(40, "cut")
    const g = mesh(members)
    for (const gone of members) {
      const rest = new Map([...g].filter(([m]) => m !== gone).map(([m, p]) => [m, new Set([...p].filter((x) => x !== gone))]))
      const from = members.find((m) => m !== gone) as string
      expect(eccentricity(rest, from)).toBeLessThan(Number.POSITIVE_INFINITY)
    }
    for (const [m, peers] of g) for (const p of peers) expect(eccentricity(g, m, new Set([`${m}|${p}`, `${p}|${m}`]))).toBeLessThan(Number.POSITIVE_INFINITY)
  })

  test("a join or a leave moves few edges: the chords of other pairs stay", () => {
    const before = ids(100, "j")
    const after = [...before, "node-j-newcomer"]
    const a = mesh(before)
    const b = mesh(after)
    let changed = 0
    for (const m of before) {
      const x = a.get(m) as Set<string>
      const y = new Set([...(b.get(m) as Set<string>)].filter((p) => p !== "node-j-newcomer"))
      for (const p of x) if (!y.has(p)) changed++
      for (const p of y) if (!x.has(p)) changed++
    }
    // Only the ring edge the newcomer stepped into (seen from both of its ends) changes among the old nodes.
    expect(changed).toBeLessThanOrEqual(2)
    expect(b.get("node-j-newcomer")?.size).toBeGreaterThanOrEqual(2)
  })

  test("a member listed twice, or self missing from the list, changes nothing", () => {
    const members = ids(30, "d")
    const self = members[3] as string
    const plain = meshNeighbours(self, members)
    expect(meshNeighbours(self, [...members, ...members.slice(0, 5)])).toEqual(plain)
    expect(meshNeighbours(self, members.filter((m) => m !== self))).toEqual(plain)
  })
})
