/**
 * Majorities. Strict: more than half of the voters. An even split has no
 * majority, and nobody acts on either side. Akka's keep-majority breaks
 * such ties by the lowest address, which is safe only when both sides
 * count the same voters; here a node that just joined, or one whose peer
 * was cut one way, counts differently (seen in the partition test: a fresh
 * node and one peer each "won" the tie alone), so availability gives way.
 * A 2-node cluster therefore cannot take over after a crash: run three.
 */
export function isMajority(members: Iterable<string>, voters: readonly string[]): boolean {
  const all = new Set(voters)
  let mine = 0
  for (const m of new Set(members)) if (all.has(m)) mine++
  return mine * 2 > all.size
}

/**
 * The latest time at which a majority of `voters` had each heard from us at
 * or after it: `anchor(v)` is that time per voter (-Infinity for one we have
 * no fresh word from).
 */
export function majorityAnchor(voters: readonly string[], anchor: (v: string) => number): number {
  const times = voters.map(anchor).sort((a, b) => b - a)
  return times[Math.floor(voters.length / 2)] as number
}
