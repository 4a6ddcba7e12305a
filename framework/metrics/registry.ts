/**
 * A small Prometheus text-format registry: counters, gauges (read when
 * scraped), histograms with fixed buckets. Enough for GET /metrics without a
 * dependency; each metric is one object the code holds and bumps.
 */
type Labels = Record<string, string>

export class Counter {
  #values = new Map<string, number>()
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(by = 1, labels?: Labels): void {
    const k = labels ? key(labels) : "" // the unlabelled case runs once per action
    this.#values.set(k, (this.#values.get(k) ?? 0) + by)
  }
  render(): string {
    const rows = [...this.#values].map(([k, v]) => `${this.name}${k} ${v}`)
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} counter\n${rows.join("\n") || `${this.name} 0`}`
  }
}

export class Gauge {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly read: () => number | [Labels, number][],
  ) {}
  render(): string {
    const v = this.read()
    const rows = typeof v === "number" ? [`${this.name} ${v}`] : v.map(([l, x]) => `${this.name}${key(l)} ${x}`)
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} gauge\n${rows.join("\n")}`
  }
}

export class Histogram {
  #counts: number[]
  #sum = 0
  #count = 0
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[],
  ) {
    this.#counts = buckets.map(() => 0)
  }
  observe(value: number): void {
    this.#sum += value
    this.#count++
    for (let i = 0; i < this.buckets.length; i++) if (value <= (this.buckets[i] as number)) this.#counts[i]!++
  }
  render(): string {
    const rows = this.buckets.map((b, i) => `${this.name}_bucket{le="${b}"} ${this.#counts[i]}`)
    rows.push(`${this.name}_bucket{le="+Inf"} ${this.#count}`, `${this.name}_sum ${this.#sum}`, `${this.name}_count ${this.#count}`)
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n${rows.join("\n")}`
  }
}

export class Registry {
  #metrics: (Counter | Gauge | Histogram)[] = []
  counter(name: string, help: string): Counter {
    return this.#add(new Counter(name, help))
  }
  gauge(name: string, help: string, read: () => number | [Labels, number][]): Gauge {
    return this.#add(new Gauge(name, help, read))
  }
  histogram(name: string, help: string, buckets: number[]): Histogram {
    return this.#add(new Histogram(name, help, buckets))
  }
  render(): string {
    return `${this.#metrics.map((m) => m.render()).join("\n")}\n`
  }
  #add<M extends Counter | Gauge | Histogram>(m: M): M {
    this.#metrics.push(m)
    return m
  }
}

function key(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, "_")}"`)
  return parts.length ? `{${parts.join(",")}}` : ""
}
