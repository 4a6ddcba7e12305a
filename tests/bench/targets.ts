/**
 * Figures next to their targets (issue 17's): each check returns the figure
 * as a table cell ("28.2 (≤ 50: met)") and is kept for the summary `bun run
 * bench` prints at the end, so every target shows once with its figure, met
 * or missed, or why it was not measured.
 */
export class Targets {
  #rows: { target: string; where: string; figure: string; verdict: string }[] = []

  /** `value` must stay at or under `bound`. */
  atMost(target: string, where: string, value: number, bound: number, unit = ""): string {
    return this.#check(target, where, value, `≤ ${bound}${unit}`, value <= bound, unit)
  }

  /** `value` must reach `bound`. */
  atLeast(target: string, where: string, value: number, bound: number, unit = ""): string {
    return this.#check(target, where, value, `≥ ${bound}${unit}`, value >= bound, unit)
  }

  /** A target this run did not measure, and why. */
  notMeasured(target: string, why: string): void {
    this.#rows.push({ target, where: "", figure: "-", verdict: `not measured: ${why}` })
  }

  #check(target: string, where: string, value: number, bound: string, met: boolean, unit: string): string {
    const verdict = Number.isFinite(value) ? (met ? "met" : "missed") : "not measured"
    this.#rows.push({ target, where, figure: `${value}${unit}`, verdict })
    return `${value} (${bound}: ${verdict})`
  }

  has(target: string): boolean {
    return this.#rows.some((r) => r.target === target)
  }

  print(): void {
    if (!this.#rows.length) return
    console.log("\n| target (issue 17) | measured on | figure | |")
    console.log("| --- | --- | ---: | --- |")
    const order = (t: string) => Object.values(TARGET).indexOf(t as never)
    for (const r of this.#rows.toSorted((a, b) => order(a.target) - order(b.target))) console.log(`| ${r.target} | ${r.where} | ${r.figure} | ${r.verdict} |`)
  }
}

/** The targets' names, as the summary lists them. */
export const TARGET = {
  clusterCpu: "3 nodes, 2 replicas, 50x4 spread: cluster CPU per action ≤ 45 µs",
  replicaLag: "3 nodes, 2 replicas, 50x4 spread: replica lag p99 ≤ 250 ms",
  nodeCpu: "one node, 50x4: server CPU per action ≤ 18 µs",
  idle: "an idle session ≤ 50 KB of RSS",
  drainTotal: "drain of 1,000 sessions ≤ 2 s",
  drainPause: "drain of 1,000 sessions: pause p99 ≤ 50 ms",
  failover: "failover (SIGKILL): acting again ≤ 1.5 s",
  anchorNode: "one node, 50x4: ≥ 2.5× Colyseus's best mode",
  anchorCluster: "3 nodes, 2 replicas, 50x4: ≥ 1× Colyseus's best mode on the same core",
  anchorCrowd: "one node, 1x100, SDK clients: ≥ 1× Colyseus's best mode",
} as const

/** A load generator above this share of its core is the limit of its row, not the server. */
export const SATURATED_PCT = 85

/** The load generator's cell: its busiest process's share of a core, and a plain warning when that is the limit. */
export function loadGeneratorCell(pct: number, procs = 1): string {
  const share = `${procs > 1 ? `${procs} processes, busiest ` : ""}${pct} %`
  return pct > SATURATED_PCT ? `${share}: saturated, this row measures the load generator` : share
}
