/**
 * Which peers a node syncs the registry with. Every node holds the whole
 * registry, but syncing it with every peer makes each change arrive at each
 * node once per peer: automerge's sync protocol sends a change on to every
 * peer not yet known to have it, so with N nodes a change is received about
 * N² times in all (at 20 nodes, 34 KB of registry sync per session created;
 * docs/simulator.md, "Scale"). On a sparse mesh it is received once per
 * mesh edge, and still reaches everyone in a few hops.
 *
 * The mesh is a ring (every node and the next and previous by hash, so the
 * mesh is connected whatever the size) plus random chords: a pair is linked
 * when the hash of the pair falls under a threshold, which gives each node
 * about 1.4 × log2(N) chords. Every node computes the same mesh from the same
 * member list with no coordination, and each side of a pair decides alike. A
 * join or a leave moves only the ring edges next to it: the chords of other
 * pairs do not depend on who else is there, and the threshold changes only
 * when N crosses a power of two.
 */

/** Up to this many members, the mesh is complete (every peer). */
export const FULL_MESH_UP_TO = 8

/** The members a node syncs the registry with: its mesh neighbours among `members` (self excluded). */
export function meshNeighbours(self: string, members: readonly string[]): Set<string> {
  const others = [...new Set(members)].filter((m) => m !== self)
  if (others.length + 1 <= FULL_MESH_UP_TO) return new Set(others)
  const out = new Set<string>()
  const threshold = chordThreshold(others.length + 1)
  for (const m of others) if (pairHash(self, m) < threshold) out.add(m)
  // The ring: neighbours by each id's own hash (ties, which need equal hashes, broken by id).
  const ring = [self, ...others].map((id) => ({ id, h: idHash(id) })).sort((a, b) => (a.h === b.h ? (a.id < b.id ? -1 : 1) : a.h < b.h ? -1 : 1))
  const at = ring.findIndex((r) => r.id === self)
  out.add((ring[(at + 1) % ring.length] as { id: string }).id)
  out.add((ring[(at - 1 + ring.length) % ring.length] as { id: string }).id)
  return out
}

/** Whether two members are mesh neighbours, as either of them computes it. */
export function meshLinked(a: string, b: string, members: readonly string[]): boolean {
  return a !== b && meshNeighbours(a, members).has(b)
}

/**
 * A pair is a chord when its hash is under 2^64 × 2 ln(M) / M, with M the
 * member count rounded up to a power of two: an Erdős–Rényi graph is
 * connected almost surely above ln(M) / M; twice that is a margin for cut
 * links and for views that differ while membership changes.
 */
function chordThreshold(n: number): bigint {
  const m = 2 ** Math.ceil(Math.log2(n))
  const p = Math.min(1, (2 * Math.log(m)) / m)
  return BigInt(Math.floor(p * 2 ** 53)) << 11n
}

function pairHash(a: string, b: string): bigint {
  const [x, y] = a < b ? [a, b] : [b, a]
  return BigInt.asUintN(64, BigInt(Bun.hash.wyhash(`${x}\u0000${y}`, 0x5bd1e9955bd1e995n)))
}

function idHash(id: string): bigint {
  return BigInt.asUintN(64, BigInt(Bun.hash.wyhash(id, 0x27d4eb2f165667c5n)))
}
