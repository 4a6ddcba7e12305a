/**
 * Rendezvous (highest-random-weight) hashing: every node ranks the members
 * for a session the same way, with no coordination, and a member joining or
 * leaving moves only the sessions whose first choice it is or was.
 */
export interface Candidate {
  id: string
  version: string
}

/** Members ranked for `sessionId`: newest app version first, then by hash weight. */
export function rank<T extends Candidate>(sessionId: string, members: readonly T[]): T[] {
  return members
    .map((m) => ({ m, w: weight(m.id, sessionId) }))
    .sort((a, b) => compareVersions(b.m.version, a.m.version) || (a.w === b.w ? 0 : a.w < b.w ? 1 : -1))
    .map((x) => x.m)
}

/** The owner and the replicas: the first `replicas` of the ranking (owner included). */
export function replicaSet<T extends Candidate>(sessionId: string, members: readonly T[], replicas: number | "all"): T[] {
  const ranked = rank(sessionId, members)
  return replicas === "all" ? ranked : ranked.slice(0, Math.max(1, replicas))
}

export function newestVersion(members: readonly Candidate[]): string | undefined {
  let best: string | undefined
  for (const m of members) if (best === undefined || compareVersions(m.version, best) > 0) best = m.version
  return best
}

/** Numeric-aware comparison: "1.10.0" > "1.9.2", "v2" > "v1". */
export function compareVersions(a: string, b: string): number {
  // Placement compares versions for every session it ranks; nearly always they are equal.
  return a === b ? 0 : a.localeCompare(b, "en", { numeric: true })
}

function weight(nodeId: string, sessionId: string): bigint {
  return BigInt.asUintN(64, BigInt(Bun.hash.wyhash(`${nodeId}\u0000${sessionId}`, 0x9e3779b97f4a7c15n)))
}
