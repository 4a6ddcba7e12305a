/**
 * `bun tests/bench/sim-seeds.ts [ROOT] [FROM] [COUNT] [ACTIVE]`: the CPU time
 * (user + system, which a loaded machine distorts less than wall time) of
 * simulator seeds FROM.. in one warm process, per seed. ROOT is a checkout
 * (default this one), to compare two versions back to back.
 */
import { join } from "node:path"

const [root, from, count, active] = [process.argv[2] ?? join(import.meta.dir, "../.."), Number(process.argv[3] ?? 1000), Number(process.argv[4] ?? 20), Number(process.argv[5] ?? 8000)]
const { runSeed } = (await import(join(root, "framework/sim/run.ts"))) as typeof import("../../framework/sim/run.ts")
const cpu = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}
await runSeed({ seed: "warm-up", activeMs: active })
const each: number[] = []
let simulated = 0
let failed = 0
const c0 = cpu()
for (let s = from; s < from + count; s++) {
  const c = cpu()
  const r = await runSeed({ seed: String(s), activeMs: active })
  each.push(cpu() - c)
  simulated += r.virtualMs
  if (!r.ok) failed++
}
const total = cpu() - c0
each.sort((a, b) => a - b)
console.log(`${root}: ${count} seeds, --active ${active}: ${(total / count).toFixed(0)} ms CPU per seed (median ${each[each.length >> 1]?.toFixed(0)}), ${(simulated / count / 1000).toFixed(1)} s simulated per seed, ${failed} failed`)
