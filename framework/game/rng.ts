/**
 * A seeded random source whose whole state is four 32-bit words (sfc32), so
 * the session can store it and continue the same sequence on another node.
 */
export interface Rng {
  /** A float in [0, 1). */
  next(): number
  /** An integer in [min, max] (both inclusive). */
  int(min: number, max: number): number
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T
  /** Shuffles the array in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[]
  /** true with probability p. */
  chance(p: number): boolean
}

export type RngState = [number, number, number, number]

/** Hashes a seed string into a starting state (cyrb128). */
export function seedRng(seed: string): RngState {
  let h1 = 1779033703
  let h2 = 3144134277
  let h3 = 1013904242
  let h4 = 2773480762
  for (let i = 0; i < seed.length; i++) {
    const k = seed.charCodeAt(i)
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067)
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233)
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213)
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179)
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067)
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233)
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213)
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179)
  const s: RngState = [(h1 ^ h2 ^ h3 ^ h4) >>> 0, (h2 ^ h1) >>> 0, (h3 ^ h1) >>> 0, (h4 ^ h1) >>> 0]
  // Warm up: the first outputs of sfc32 correlate with the seed.
  const rng = rngOver(s)
  for (let i = 0; i < 15; i++) rng.next()
  return s
}

/** An Rng that advances `state` in place; the caller stores the state back. */
export function rngOver(state: RngState): Rng {
  const next = (): number => {
    let [a, b, c, d] = state
    a >>>= 0
    b >>>= 0
    c >>>= 0
    d >>>= 0
    const t = (((a + b) | 0) + d) | 0
    d = (d + 1) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) | 0
    state[0] = a >>> 0
    state[1] = b >>> 0
    state[2] = c >>> 0
    state[3] = d >>> 0
    return (t >>> 0) / 4294967296
  }
  const int = (min: number, max: number): number => {
    if (!Number.isInteger(min) || !Number.isInteger(max) || max < min)
      throw new RangeError(`rng.int(${min}, ${max}): need integers with min <= max`)
    return min + Math.floor(next() * (max - min + 1))
  }
  return {
    next,
    int,
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new RangeError("rng.pick: empty array")
      return items[int(0, items.length - 1)] as T
    },
    shuffle<T>(items: T[]): T[] {
      for (let i = items.length - 1; i > 0; i--) {
        const j = int(0, i)
        const tmp = items[i] as T
        items[i] = items[j] as T
        items[j] = tmp
      }
      return items
    },
    chance: (p: number) => next() < p,
  }
}
