/** The latest `size` samples of a measure, for percentiles (replica lag, action latency). */
export class SampleWindow {
  #samples: number[] = []
  #next = 0
  #count = 0

  constructor(readonly size: number) {}

  add(value: number): void {
    if (this.#samples.length < this.size) this.#samples.push(value)
    else this.#samples[this.#next] = value
    this.#next = (this.#next + 1) % this.size
    this.#count++
  }

  /** p50 / p99 / max over the window, and how many samples were ever added. */
  summary(): { count: number; p50: number | null; p99: number | null; max: number | null } {
    if (this.#samples.length === 0) return { count: 0, p50: null, p99: null, max: null }
    const sorted = [...this.#samples].sort((a, b) => a - b)
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
    return { count: this.#count, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] as number }
  }
}
