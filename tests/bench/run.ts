/**
 * `bun run bench`: counter-arena on one node (50x4, 200x4, 1x100) and on a
 * 3-node cluster (50x4), and the drain of 100 and 300 sessions. Medians of
 * --runs runs (default 3); server pinned to core 0 and this load generator
 * to core 1 where taskset exists. `--quick` runs everything once for 2 s (a
 * smoke run: numbers are not meaningful, the suite just must not rot).
 */
import { parseArgs } from "node:util"
import { type ArenaResult, runArena } from "./arena.ts"
import { measureDrain } from "./drain.ts"
import { median } from "./stats.ts"

const { values } = parseArgs({ options: { quick: { type: "boolean", default: false }, runs: { type: "string", default: "3" } } })
const runs = values.quick ? 1 : Number(values.runs)
const seconds = values.quick ? 2 : 20
const warmup = values.quick ? 1 : 3

const arenaConfigs = [
  { sessions: 50, players: 4, nodes: 1 },
  { sessions: 200, players: 4, nodes: 1 },
  { sessions: 1, players: 100, nodes: 1 },
  { sessions: 50, players: 4, nodes: 3 },
]

console.log(`baton bench: ${runs} run(s) per figure, ${seconds} s measured after ${warmup} s warm-up\n`)
console.log("| config | nodes | actions/s | p50 ms | p95 ms | p99 ms | server CPU µs/action | peak RSS MB |")
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
const results: Record<string, ArenaResult[]> = {}
for (const cfg of arenaConfigs) {
  const all: ArenaResult[] = []
  for (let i = 0; i < runs; i++) all.push(await runArena({ ...cfg, seconds, warmup, pin: cfg.nodes === 1 }))
  const key = `${cfg.sessions}x${cfg.players}@${cfg.nodes}`
  results[key] = all
  const m = (f: (r: ArenaResult) => number) => median(all.map(f))
  console.log(
    `| ${cfg.sessions}x${cfg.players} | ${cfg.nodes} | ${m((r) => r.actionsPerSecond)} | ${m((r) => r.latencyMs.p50)} | ${m((r) => r.latencyMs.p95)} | ${m((r) => r.latencyMs.p99)} | ${m((r) => r.serverCpuUsPerAction)} | ${m((r) => r.peakRssMb)} |`,
  )
}
const lag = results["50x4@3"]?.[0]?.replicaLagMs
if (lag) console.log(`\nreplica lag on the 3-node run (per node): ${JSON.stringify(lag)}`)

console.log("\n| drain | total ms | pause p50 ms | pause p99 ms |")
console.log("| --- | ---: | ---: | ---: |")
for (const n of values.quick ? [20] : [100, 300]) {
  const all = []
  for (let i = 0; i < runs; i++) all.push(await measureDrain(n, n <= 100))
  console.log(`| ${n} sessions | ${median(all.map((d) => d.drainMs))} | ${median(all.map((d) => Number(d.pauseP50)))} | ${median(all.map((d) => Number(d.pauseP99)))} |`)
}
