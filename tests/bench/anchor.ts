/**
 * The anchor: Colyseus 0.18 (its best mode per size) and Baton (a user's
 * defaults, `bun run start`, players through `baton/client`) on the same load
 * generator in the same run, interleaved pair by pair, pinned (servers on
 * core 0, load generator on core 1). It drives the shared side-by-side
 * harness (../shared/bench/colyseus, its bench.mjs per run), copied to a
 * temporary folder with its packages installed by npm: it needs Node, and
 * says so and skips without it.
 *
 *   bun tests/bench/anchor.ts [--runs 3] [--seconds 15] [--warmup 3] [--tuned] [--loadgen-runtime node|bun]
 *   (or `bun run bench --anchor`, `--only anchor`)
 *
 * BATON_ANCHOR_DIR names the harness when it is not at ../shared/bench/colyseus
 * beside this checkout.
 */
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { parseArgs } from "node:util"
import { median, round } from "./stats.ts"
import { loadGeneratorCell, TARGET, Targets } from "./targets.ts"

const ROOT = resolve(import.meta.dir, "../..")

/** One framework's run of one size, as bench.mjs writes it (the fields used here). */
interface BenchRun {
  actionsPerSec: number
  latencyMs: { p50: number; p99: number }
  serverCpuUsPerAction: number | null
  loadgenCpuPct: number | null
  problems: string[]
  loadgen?: { driverStats?: { errorFrames?: Record<string, number> } }
}

interface Pair {
  name: string
  rooms: number
  players: number
  nodes: number
  /** Colyseus's best mode at this size (the harness's RESULTS). */
  mode: string
  target: keyof typeof TARGET
  ratio: number
}

const PAIRS: Pair[] = [
  { name: "50x4, one node", rooms: 50, players: 4, nodes: 1, mode: "patchnow", target: "anchorNode", ratio: 2.5 },
  { name: "50x4, 3 nodes on core 0, 2 replicas (Colyseus: one process)", rooms: 50, players: 4, nodes: 3, mode: "patchnow", target: "anchorCluster", ratio: 1 },
  { name: "1x100, one node", rooms: 1, players: 100, nodes: 1, mode: "patch16", target: "anchorCrowd", ratio: 1 },
]

export interface AnchorOptions {
  runs: number
  seconds: number
  warmup: number
  /** Also a Baton run with the frame limit lifted after each default one, labelled tuned. */
  tuned?: boolean
  /** The load generator's runtime for both frameworks (default node: V8, as browsers run the SDK). */
  runtime?: "node" | "bun"
}

/** The harness, copied where its packages may be installed; or why it cannot run. */
function prepareHarness(): { dir: string } | { skipped: string } {
  if (!Bun.which("node") || !Bun.which("npm")) return { skipped: "Node and npm are not installed here (Colyseus runs on Node ≥ 20)" }
  const src = resolve(process.env.BATON_ANCHOR_DIR ?? join(ROOT, "../shared/bench/colyseus"))
  if (!existsSync(join(src, "bench.mjs"))) return { skipped: `no side-by-side harness at ${src} (set BATON_ANCHOR_DIR)` }
  const dir = join(tmpdir(), "baton-anchor-colyseus")
  mkdirSync(dir, { recursive: true })
  // The harness's files afresh (it may have changed), its installed packages kept.
  for (const name of readdirSync(src).filter((n) => n !== "node_modules" && n !== "results")) {
    rmSync(join(dir, name), { recursive: true, force: true })
    cpSync(join(src, name), join(dir, name), { recursive: true })
  }
  // npm rewrites the lock (it lists builds for other platforms the registry here may lack).
  chmodSync(join(dir, "package-lock.json"), 0o644)
  if (!existsSync(join(dir, "node_modules/@colyseus/core"))) {
    const npm = Bun.spawnSync(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: dir, stdout: "ignore", stderr: "pipe" })
    if (npm.exitCode !== 0) return { skipped: `npm install in ${dir} failed: ${npm.stderr.toString().trim().split("\n").slice(-3).join(" ")}` }
  }
  return { dir }
}

/** One bench.mjs run; undefined if it failed (its log says why). */
async function benchRun(dir: string, name: string, args: string[], opts: AnchorOptions): Promise<BenchRun | undefined> {
  const out = join(dir, "results", `${name}.json`)
  const port = 20_000 + Math.floor(Math.random() * 20_000)
  const pin = Bun.which("taskset") ? ["--pin"] : []
  const proc = Bun.spawn(
    ["node", "bench.mjs", "--warmup", String(opts.warmup), "--duration", String(opts.seconds), "--port", String(port), ...pin, "--loadgen-runtime", opts.runtime ?? "node", "--out", out, ...args],
    { cwd: dir, stdout: "ignore", stderr: Bun.file(`${out}.log`) },
  )
  if ((await proc.exited) !== 0 || !existsSync(out)) {
    console.error(`anchor: ${name} failed (${out}.log)`)
    return undefined
  }
  return (await Bun.file(out).json()) as BenchRun
}

/** Runs every pair `runs` times, interleaved, prints the table and puts the ratios next to their targets. */
export async function runAnchor(opts: AnchorOptions, targets: Targets): Promise<void> {
  const harness = prepareHarness()
  if ("skipped" in harness) {
    console.log(`\nanchor skipped: ${harness.skipped}`)
    for (const p of PAIRS) targets.notMeasured(TARGET[p.target], harness.skipped)
    return
  }
  rmSync(join(harness.dir, "results"), { recursive: true, force: true })
  mkdirSync(join(harness.dir, "results"))
  const baton = ["--target", "baton", "--baton-dir", ROOT]
  // Open operator views: the harness cross-checks its counts with the nodes' /metrics (no cost per action).
  const env = (tuned: boolean) => ["--baton-env", `BATON_OPERATOR_VIEWS=open${tuned ? ",BATON_FRAMES_PER_SECOND=1000000" : ""}`]
  const runs = new Map<string, BenchRun[]>()
  const keep = (key: string, r: BenchRun | undefined) => r && runs.set(key, [...(runs.get(key) ?? []), r])
  for (let rep = 1; rep <= opts.runs; rep++)
    for (const [i, p] of PAIRS.entries()) {
      const size = ["--rooms", String(p.rooms), "--players", String(p.players)]
      keep(`${i}:colyseus`, await benchRun(harness.dir, `${i}-colyseus-${p.mode}-${rep}`, ["--mode", p.mode, ...size], opts))
      keep(`${i}:baton`, await benchRun(harness.dir, `${i}-baton-${rep}`, [...baton, ...env(false), "--nodes", String(p.nodes), ...size], opts))
      if (opts.tuned) keep(`${i}:tuned`, await benchRun(harness.dir, `${i}-baton-tuned-${rep}`, [...baton, ...env(true), "--nodes", String(p.nodes), ...size], opts))
    }

  console.log(`\n| anchor: ${opts.runtime ?? "node"} load generator, interleaved | framework | actions/s | p50 ms | p99 ms | server CPU µs/action | load generator | rate_limited (whole run) | ratio to Colyseus | problems |`)
  console.log("| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | --- | --- |")
  for (const [i, p] of PAIRS.entries()) {
    const colyseus = runs.get(`${i}:colyseus`) ?? []
    const base = colyseus.length ? median(colyseus.map((r) => r.actionsPerSec)) : Number.NaN
    const rows: [string, BenchRun[]][] = [[`Colyseus ${p.mode}`, colyseus], ["Baton, defaults", runs.get(`${i}:baton`) ?? []]]
    if (opts.tuned) rows.push(["Baton, tuned: BATON_FRAMES_PER_SECOND=1000000", runs.get(`${i}:tuned`) ?? []])
    for (const [framework, all] of rows) {
      if (!all.length) {
        console.log(`| ${p.name} | ${framework} | failed | | | | | | | |`)
        continue
      }
      const m = (f: (r: BenchRun) => number | null) => median(all.map((r) => f(r) ?? Number.NaN))
      const perSecond = Math.round(m((r) => r.actionsPerSec))
      const ratio = Math.round((perSecond / base) * 100) / 100
      const ratioCell = framework.startsWith("Colyseus") ? "-" : framework.includes("defaults") && Number.isFinite(base) ? targets.atLeast(TARGET[p.target], `${p.name}, ${opts.runtime ?? "node"} load generator`, ratio, p.ratio, "×") : `${ratio}×`
      const refused = median(all.map((r) => r.loadgen?.driverStats?.errorFrames?.rate_limited ?? 0))
      const problems = [...new Set(all.flatMap((r) => r.problems))].join("; ")
      console.log(
        `| ${p.name} | ${framework} | ${perSecond} | ${round(m((r) => r.latencyMs.p50))} | ${round(m((r) => r.latencyMs.p99))} | ${m((r) => r.serverCpuUsPerAction)} | ${loadGeneratorCell(m((r) => r.loadgenCpuPct))} | ${framework.startsWith("Colyseus") ? "-" : refused} | ${ratioCell} | ${problems} |`,
      )
    }
    if (!runs.get(`${i}:baton`)?.length || !colyseus.length) targets.notMeasured(TARGET[p.target], `a run of the pair failed (${join(harness.dir, "results")})`)
  }
  console.log(`\nEvery run's JSON and log: ${join(harness.dir, "results")}`)
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "3" },
      seconds: { type: "string", default: "15" },
      warmup: { type: "string", default: "3" },
      tuned: { type: "boolean", default: false },
      "loadgen-runtime": { type: "string", default: "node" },
    },
  })
  const targets = new Targets()
  const runtime = values["loadgen-runtime"] === "bun" ? "bun" : "node"
  await runAnchor({ runs: Number(values.runs), seconds: Number(values.seconds), warmup: Number(values.warmup), tuned: values.tuned, runtime }, targets)
  targets.print()
}
