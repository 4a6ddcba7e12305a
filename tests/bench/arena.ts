/**
 * counter-arena (../shared/bench/counter-arena.md): R sessions x P players,
 * each player in a closed loop (send inc, wait until its own count shows it,
 * send the next). This process is the load generator (or starts
 * `--loadgen-procs N` of them, the players split over them); the node(s) run
 * in their own processes, with a user's defaults (`--tuned` lifts the limit
 * of 200 frames/s per player, as a tuned deployment might).
 *
 *   bun tests/bench/arena.ts --sessions 50 --players 4 --seconds 20 [--nodes 1|3] [--warmup 3] [--pin: nodes on core 0, load generator on core 1] [--interval MS] [--relayed] [--tuned] [--loadgen-procs N]
 */
import { resolve } from "node:path"
import { parseArgs } from "node:util"
import { createSession } from "batonjs/client"
import { TestCluster } from "../support/cluster.ts"
import { type NodeProcess, startNodeProcess } from "../support/node-process.ts"
import { type LoopOptions, type LoopResult, type Seat, joinSeats, runLoops } from "./arena-players.ts"
import { percentiles } from "./stats.ts"

export interface ArenaOptions extends LoopOptions {
  sessions: number
  players: number
  nodes: number
  pin?: boolean
  /** Lift the production limit of 200 frames/s per player (BATON_FRAMES_PER_SECOND=1000000): a tuned row, never the default. */
  tuned?: boolean
  /** Load-generator processes (default 1: this one); the players are split over them, round robin. */
  loadgenProcs?: number
}

export interface ArenaResult {
  config: string
  nodes: number
  clients: number
  /** What differs from a user's defaults, in words ("defaults" when nothing does). */
  setup: string
  actionsPerSecond: number
  latencyMs: { n: number; p50: number; p95: number; p99: number }
  serverCpuUsPerAction: number
  peakRssMb: number
  /** Share of one core the busiest load-generator process used while measuring: near 100 % it, not the server, limits the rate. */
  loadGeneratorCpuPct: number
  loadGeneratorProcs: number
  /** Error frames the nodes sent while measuring, by code (`rate_limited`: refused over the frame limit, resent by the SDK 100–200 ms later). */
  errorFrames: Record<string, number>
  rateLimited: number
  /** Players whose loop stopped because their session failed. */
  failedPlayers: number
  replicaLagMs?: unknown
  /** The worst node's replica lag p99, ms. */
  replicaLagP99Ms?: number
}

/** Production defaults the test cluster changes, put back (it beats every 200 ms to find failures fast). */
const CLUSTER_DEFAULTS = { BATON_HEARTBEAT_MS: "500" }
const TUNED = { BATON_FRAMES_PER_SECOND: "1000000" }

export async function runArena(opts: ArenaOptions): Promise<ArenaResult> {
  let nodes: NodeProcess[]
  let stop: () => Promise<unknown>
  const pin = opts.pin && Bun.which("taskset") !== null
  const env = opts.tuned ? TUNED : {}
  if (opts.nodes === 1) {
    const n = await startNodeProcess({ env: { BATON_LOG: "json", ...env } })
    if (pin) Bun.spawnSync(["taskset", "-a", "-pc", "0", String(n.proc.pid)])
    nodes = [n]
    // SIGTERM when profiling: Bun writes the CPU profile at a clean exit.
    stop = () => (process.env.BATON_PROFILE_DIR ? n.stop() : n.kill())
  } else {
    const c = await TestCluster.start(opts.nodes, { ...CLUSTER_DEFAULTS, ...env })
    nodes = c.nodes
    // The anchor's layout: every node on core 0, the load generator on core 1.
    if (pin) for (const n of nodes) Bun.spawnSync(["taskset", "-a", "-pc", "0", String(n.proc.pid)])
    stop = () => c.stopAll()
  }
  // Pinned for this run only: whatever this process starts later (the cluster benchmarks of the
  // suite) inherits its affinity, and three nodes on one core measure nothing but the pinning.
  // Load-generator processes started below inherit it: all of them share core 1.
  const affinity = pin ? /:\s*(\S+)\s*$/.exec(Bun.spawnSync(["taskset", "-p", String(process.pid)]).stdout.toString())?.[1] : undefined
  if (pin) Bun.spawnSync(["taskset", "-a", "-pc", "1", String(process.pid)])
  try {
    const seats: Seat[] = []
    for (let s = 0; s < opts.sessions; s++) {
      const { id } = await createSession({ url: nodes[s % nodes.length]!.url, game: "counter" })
      for (let p = 0; p < opts.players; p++) seats.push({ url: nodes[(s + p) % nodes.length]!.url, session: id, player: `p${p}` })
    }
    let cpu0 = 0
    const onMeasure = async () => {
      cpu0 = await cpuMs(nodes)
    }
    let peakRss = 0
    const rssTimer = setInterval(async () => (peakRss = Math.max(peakRss, await rssMb(nodes))), 500)
    const procs = Math.max(1, opts.loadgenProcs ?? 1)
    const results = procs === 1 ? [await inThisProcess(seats, opts, onMeasure)] : await inProcesses(seats, procs, opts, onMeasure)
    clearInterval(rssTimer)
    const cpu = (await cpuMs(nodes)) - cpu0
    const count = results.reduce((a, r) => a + r.count, 0)
    const errorFrames: Record<string, number> = {}
    for (const r of results) for (const [code, n] of Object.entries(r.errorFrames)) errorFrames[code] = (errorFrames[code] ?? 0) + n
    let replicaLagMs: { p99: number | null }[] | undefined
    if (opts.nodes > 1) replicaLagMs = await Promise.all(nodes.map(async (n) => ((await (await fetch(`${n.url}/cluster`)).json()) as { replicaLagMs: { p99: number | null } }).replicaLagMs))
    return {
      config: `${opts.sessions}x${opts.players}`,
      nodes: opts.nodes,
      clients: seats.length,
      setup: setupOf(opts),
      // Each process's rate over its own window (several start within ms of each other; their figures arrive later).
      actionsPerSecond: Math.round(results.reduce((a, r) => a + r.count / Math.max(r.seconds, 1e-3), 0)),
      latencyMs: percentiles(results.flatMap((r) => r.latencies)),
      serverCpuUsPerAction: Math.round(((cpu * 1000) / Math.max(1, count)) * 10) / 10,
      peakRssMb: Math.round(peakRss),
      loadGeneratorCpuPct: Math.max(...results.map((r) => Math.round(r.cpuMs / 10 / Math.max(r.seconds, 1e-3)))),
      loadGeneratorProcs: procs,
      errorFrames,
      rateLimited: errorFrames.rate_limited ?? 0,
      failedPlayers: results.reduce((a, r) => a + r.failed, 0),
      replicaLagMs,
      replicaLagP99Ms: replicaLagMs ? Math.max(...replicaLagMs.map((l) => l.p99 ?? 0)) : undefined,
    }
  } finally {
    await stop()
    if (affinity) Bun.spawnSync(["taskset", "-a", "-p", affinity, String(process.pid)])
  }
}

/** A row's setup in words: what a reader needs to tell rows of one config apart. */
function setupOf(opts: ArenaOptions): string {
  const parts = [opts.tuned ? "tuned: BATON_FRAMES_PER_SECOND=1000000" : "defaults"]
  if (opts.nodes > 1) parts.push(opts.relayed ? "players stay where they joined (relayed)" : "players move to their session's node (SDK default)")
  if ((opts.loadgenProcs ?? 1) > 1) parts.push(`${opts.loadgenProcs} load-generator processes`)
  if (opts.intervalMs) parts.push(`paced: an action per player every ${opts.intervalMs} ms`)
  return parts.join(", ")
}

async function inThisProcess(seats: Seat[], opts: ArenaOptions, onMeasure: () => unknown): Promise<LoopResult> {
  const players = await joinSeats(seats, opts.relayed)
  try {
    return await runLoops(players, opts, onMeasure)
  } finally {
    for (const p of players.players) p.close()
  }
}

/**
 * The players split over `procs` child processes (round robin), each running
 * the closed loop (arena-players.ts; messages over Bun's IPC channel). They
 * all join before any starts; this process only samples the nodes and takes
 * the children's figures.
 */
async function inProcesses(seats: Seat[], procs: number, opts: LoopOptions, onMeasure: () => unknown): Promise<LoopResult[]> {
  const children = Array.from({ length: procs }, (_, k) => {
    const inbox: unknown[] = []
    let wake = () => {}
    const proc = Bun.spawn(["bun", resolve(import.meta.dir, "arena-players.ts")], {
      stdio: ["ignore", "inherit", "inherit"],
      ipc(message) {
        inbox.push(message)
        wake()
      },
    })
    const next = async () => {
      while (!inbox.length) {
        const arrived = new Promise<void>((r) => (wake = r))
        if ((await Promise.race([arrived, proc.exited])) !== undefined) throw new Error(`load-generator process ${proc.pid} exited (${proc.exitCode})`)
      }
      return inbox.shift()
    }
    proc.send({ seats: seats.filter((_, i) => i % procs === k), opts })
    return { proc, next }
  })
  try {
    for (const c of children) await c.next() // joined
    for (const c of children) c.proc.send("go")
    // The children measure from `warmup` after "go"; so does this process's sample of the nodes.
    const warm = setTimeout(onMeasure, opts.warmup * 1000)
    const results = await Promise.all(children.map((c) => c.next() as Promise<LoopResult>))
    clearTimeout(warm)
    return results
  } finally {
    for (const c of children) c.proc.kill()
  }
}

/** user+sys CPU of the node processes, ms (from /proc). */
async function cpuMs(nodes: NodeProcess[]): Promise<number> {
  let total = 0
  for (const n of nodes) {
    const stat = await Bun.file(`/proc/${n.proc.pid}/stat`).text().catch(() => "")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    total += ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 // clock ticks at 100 Hz
  }
  return total
}

async function rssMb(nodes: NodeProcess[]): Promise<number> {
  let total = 0
  for (const n of nodes) {
    const status = await Bun.file(`/proc/${n.proc.pid}/status`).text().catch(() => "")
    total += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
  }
  return total
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      sessions: { type: "string", default: "50" },
      players: { type: "string", default: "4" },
      seconds: { type: "string", default: "20" },
      warmup: { type: "string", default: "3" },
      nodes: { type: "string", default: "1" },
      pin: { type: "boolean", default: false },
      interval: { type: "string" },
      relayed: { type: "boolean", default: false },
      tuned: { type: "boolean", default: false },
      "loadgen-procs": { type: "string", default: "1" },
    },
  })
  const result = await runArena({
    sessions: Number(values.sessions),
    players: Number(values.players),
    seconds: Number(values.seconds),
    warmup: Number(values.warmup),
    nodes: Number(values.nodes),
    pin: values.pin,
    intervalMs: values.interval ? Number(values.interval) : undefined,
    relayed: values.relayed,
    tuned: values.tuned,
    loadgenProcs: Number(values["loadgen-procs"]),
  })
  console.log(JSON.stringify(result, null, 2))
}
