/**
 * Majorities, with Akka's keep-majority tie rule: when the voters split
 * exactly in half, the half holding the lowest id is the majority. Both
 * sides of an even split reach the same verdict from the same voter list,
 * so at most one side ever acts; a 2-node cluster whose lower node dies
 * waits for it (or for a third node) instead of risking two owners.
 */
export function isMajority(members: Iterable<string>, voters: readonly string[]): boolean {
  const all = new Set(voters)
  const mine = new Set([...members].filter((m) => all.has(m)))
  if (mine.size * 2 > all.size) return true
  if (mine.size * 2 < all.size || all.size === 0) return false
  const lowest = [...all].sort()[0] as string
  return mine.has(lowest)
}

/**
 * The latest time at which a majority of `voters` (by `isMajority`) had
 * each heard from us at or after it: `anchor(v)` is that time per voter
 * (-Infinity for one we have no fresh word from).
 */
export function majorityAnchor(voters: readonly string[], anchor: (v: string) => number): number {
  const ranked = [...voters].sort((a, b) => anchor(b) - anchor(a))
  const n = voters.length
  const strict = Math.floor(n / 2) + 1
  let best = anchor(ranked[strict - 1] as string)
  if (n % 2 === 0) {
    // The tie: the lowest id and the n/2 - 1 freshest of the others.
    const lowest = [...voters].sort()[0] as string
    const others = ranked.filter((v) => v !== lowest)
    const half = n / 2
    const weakest = half === 1 ? anchor(lowest) : Math.min(anchor(lowest), anchor(others[half - 2] as string))
    best = Math.max(best, weakest)
  }
  return best
}
