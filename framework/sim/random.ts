/**
 * A seeded random source (sfc32, seeded through splitmix32 from a string):
 * the same seed gives the same run, bit for bit.
 */
export class Random {
  #a: number
  #b: number
  #c: number
  #d: number

  constructor(seed: string | number) {
    let h = 1779033703 ^ String(seed).length
    for (const ch of String(seed)) {
      h = Math.imul(h ^ ch.charCodeAt(0), 3432918353)
      h = (h << 13) | (h >>> 19)
    }
    const next = () => {
      h = Math.imul(h ^ (h >>> 16), 2246822507)
      h = Math.imul(h ^ (h >>> 13), 3266489909)
      return (h ^= h >>> 16) >>> 0
    }
    this.#a = next()
    this.#b = next()
    this.#c = next()
    this.#d = next()
    for (let i = 0; i < 12; i++) this.next()
  }

  /** A uniform 32-bit integer. */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0
    this.#d = (this.#d + 1) | 0
    this.#a = this.#b ^ (this.#b >>> 9)
    this.#b = (this.#c + (this.#c << 3)) | 0
    this.#c = (this.#c << 21) | (this.#c >>> 11)
    this.#c = (this.#c + t) | 0
    return t >>> 0
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next() / 4294967296
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n)
  }

  /** Uniform in [lo, hi). */
  between(lo: number, hi: number): number {
    return lo + this.float() * (hi - lo)
  }

  chance(p: number): boolean {
    return this.float() < p
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T
  }

  /** Exponentially distributed with this mean (a network's long tail). */
  exponential(mean: number): number {
    return -mean * Math.log(1 - this.float())
  }

  fill(bytes: Uint8Array): Uint8Array {
    for (let i = 0; i < bytes.length; i++) bytes[i] = this.next() & 0xff
    return bytes
  }

  /** A child source: its own stream, so adding draws in one part does not shift another's. */
  fork(label: string): Random {
    return new Random(`${this.next()}:${label}`)
  }
}
