import { ALL_FAULTS, type FaultKind, type RunOptions, type RunResult, timedRun } from "./index.ts"

/**
 * bun run sim [--seed S | --seed S1,S2,… | --seeds N [--from K]] [--active MS] [--nodes N] [--faults a,b] [--workers W] [--verbose]
 * bun run sim --scale [--nodes 100] [--sessions 10000]
 *
 * One seed: runs it, prints its trace, and on failure the violations and the
 * nodes' last log lines. Many: runs them (in W worker processes), a progress
 * line as they finish, and a summary; every failing seed is listed with the
 * command that replays it. A list of seeds (the regression seeds) runs as many.
 */
const args = process.argv.slice(2)
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? args[i + 1] : undefined
}
const has = (name: string) => args.includes(`--${name}`)

const faults = flag("faults")?.split(",").filter(Boolean) as FaultKind[] | undefined
for (const f of faults ?? []) if (!ALL_FAULTS.includes(f)) fail(`--faults: "${f}" is not one of ${ALL_FAULTS.join(", ")}`)
const base: Omit<RunOptions, "seed"> = {
  activeMs: num("active", 20_000),
  nodes: num("nodes", 3),
  faults: faults ?? ALL_FAULTS,
}

if (has("scale")) await scale()
else if (flag("worker") !== undefined) await worker()
else if (flag("seed")?.includes(",")) await many((flag("seed") as string).split(",").filter(Boolean), workerCount())
else if (flag("seed") !== undefined) await one(flag("seed") as string)
else {
  const from = num("from", 1)
  await many(Array.from({ length: num("seeds", 100) }, (_, i) => String(from + i)), workerCount())
}

function workerCount(): number {
  return num("workers", Math.max(1, navigator.hardwareConcurrency ?? 1))
}

/** The scale run: a big cluster, its figures as one JSON line at the end (docs/simulator.md, "Scale"). */
async function scale(): Promise<void> {
  const { runScale } = await import("./scale.ts")
  const figures = await runScale({ nodes: num("nodes", 100), sessions: num("sessions", 10_000), progress: (line) => console.log(line) })
  console.log(JSON.stringify(figures))
}

function num(name: string, dflt: number): number {
  const v = flag(name)
  if (v === undefined) return dflt
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0) fail(`--${name}: "${v}" is not a whole number`)
  return n
}

function fail(message: string): never {
  console.error(message)
  process.exit(2)
}

async function one(seed: string): Promise<void> {
  const r = await timedRun({ ...base, seed })
  console.log(r.trace.join("\n"))
  report(r)
  if (!r.ok || has("verbose")) console.log(`\nthe nodes' last log lines:\n${r.log.slice(has("verbose") ? -3000 : -60).join("\n")}`)
  process.exit(r.ok ? 0 : 1)
}

function report(r: RunResult): void {
  const line = `seed ${r.seed}: ${r.ok ? "ok" : `${r.violations.length} violations`} · ${r.actions.acked}/${r.actions.sent} actions acknowledged, worst answer ${Math.round(r.worstAnswerMs)} ms, views agreed ${Math.round(r.worstConvergeMs)} ms after a fault at worst · ${r.steps} events, ${(r.virtualMs / 1000).toFixed(0)} s simulated in ${r.realMs} ms · trace ${r.hash}`
  console.log(line)
  for (const v of r.violations.slice(0, 20)) console.log(`  ${v.invariant}: ${v.detail}`)
  if (r.violations.length > 20) console.log(`  … and ${r.violations.length - 20} more`)
}

/** A worker: runs the seeds listed after --worker and prints one JSON line per seed. */
async function worker(): Promise<void> {
  for (const seed of (flag("worker") as string).split(",")) {
    const r = await timedRun({ ...base, seed })
    console.log(JSON.stringify({ ...r, log: r.ok ? [] : r.log.slice(-60), trace: r.ok ? [] : r.trace }))
  }
}

async function many(seeds: string[], workers: number): Promise<void> {
  const started = performance.now()
  const count = seeds.length
  const results: RunResult[] = []
  const own = ["--seed", "--seeds", "--from", "--workers"]
  const passthrough = args.filter((a, i) => !own.includes(a) && !own.includes(args[i - 1] as string))
  const procs = Array.from({ length: Math.min(workers, count) }, (_, w) =>
    Bun.spawn(["bun", import.meta.path, ...passthrough, "--worker", seeds.filter((_, i) => i % workers === w).join(",")], { stdout: "pipe", stderr: "inherit" }),
  )
  const tty = process.stdout.isTTY
  const progress = () => {
    const failed = results.filter((r) => !r.ok).length
    const text = `${results.length}/${count} seeds · ${failed} failed · ${((performance.now() - started) / 1000).toFixed(0)} s`
    if (tty) process.stdout.write(`\r${text}`)
    else if (results.length % 25 === 0 || results.length === count) console.log(text)
  }
  await Promise.all(
    procs.map(async (p) => {
      let buf = ""
      for await (const chunk of p.stdout as unknown as AsyncIterable<Uint8Array>) {
        buf += new TextDecoder().decode(chunk)
        let nl: number
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl)
          buf = buf.slice(nl + 1)
          if (!line.startsWith("{")) continue
          const r = JSON.parse(line) as RunResult
          results.push(r)
          if (!r.ok) {
            if (tty) process.stdout.write("\n")
            report(r)
            console.log(`  replay: bun run sim --seed ${r.seed}${faults ? ` --faults ${faults.join(",")}` : ""} --active ${base.activeMs} --nodes ${base.nodes}`)
          }
          progress()
        }
      }
      await p.exited
    }),
  )
  if (tty) process.stdout.write("\n")
  const failed = results.filter((r) => !r.ok)
  const worst = results.reduce((m, r) => Math.max(m, r.worstAnswerMs), 0)
  const converge = results.reduce((m, r) => Math.max(m, r.worstConvergeMs ?? 0), 0)
  const sorted = results.map((r) => r.realMs).sort((a, b) => a - b)
  console.log(
    `${results.length} seeds (${named(seeds)}): ${results.length - failed.length} passed, ${failed.length} failed · ${results.reduce((n, r) => n + r.actions.acked, 0)} actions acknowledged · worst answer ${Math.round(worst)} ms · views agree ${Math.round(converge)} ms after a fault at worst · ${Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0)} ms per seed (median) · ${((performance.now() - started) / 1000).toFixed(1)} s`,
  )
  if (failed.length) console.log(`failing seeds: ${failed.map((r) => r.seed).join(", ")}`)
  process.exit(failed.length || results.length < count ? 1 : 0)
}

/** "1000..1199" for a run of consecutive seeds, else the list. */
function named(seeds: string[]): string {
  const first = Number(seeds[0])
  const consecutive = seeds.every((s, i) => Number(s) === first + i)
  return consecutive && seeds.length > 1 ? `${first}..${first + seeds.length - 1}` : seeds.join(", ")
}
