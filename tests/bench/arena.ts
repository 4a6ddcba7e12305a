/**
 * counter-arena (../shared/bench/counter-arena.md): R sessions x P players,
 * each player in a closed loop (send inc, wait until its own count shows it,
 * send the next). This process is the load generator; the node(s) run in
 * their own processes.
 *
 *   bun tests/bench/arena.ts --sessions 50 --players 4 --seconds 20 [--nodes 1|3] [--warmup 3] [--pin] [--interval MS] [--relayed]
 */
import { parseArgs } from "node:util"
import { type GameSession, createSession, join } from "batonjs/client"
import type counter from "../../app/games/counter.ts"
import { TestCluster } from "../support/cluster.ts"
import { type NodeProcess, startNodeProcess } from "../support/node-process.ts"
import { percentiles } from "./stats.ts"

export interface ArenaResult {
  config: string
  nodes: number
  clients: number
  actionsPerSecond: number
  latencyMs: { n: number; p50: number; p95: number; p99: number }
  serverCpuUsPerAction: number
  peakRssMb: number
  /** Share of one core the load generator used while measuring: near 100 % it, not the server, limits the rate. */
  loadGeneratorCpuPct: number
  replicaLagMs?: unknown
}

export async function runArena(opts: {
  sessions: number
  players: number
  seconds: number
  warmup: number
  nodes: number
  pin?: boolean
  /**
   * Paced instead of closed loop: each player starts an action every `intervalMs` (or as soon as
   * its previous one is seen, if that took longer). Latency at a fixed rate below saturation,
   * rather than at the highest rate the loop reaches.
   */
  intervalMs?: number
  /** Players stay on the node they connected to (most are relayed), instead of the SDK's default move to their session's node. */
  relayed?: boolean
  /** Measure past `seconds` until this many actions are counted (a smoke run's window is short enough for a loaded machine to count none). */
  minActions?: number
}): Promise<ArenaResult> {
  let nodes: NodeProcess[]
  let stop: () => Promise<unknown>
  const pin = opts.pin && Bun.which("taskset") !== null
  if (opts.nodes === 1) {
    const n = await startNodeProcess({ env: { BATON_LOG: "json", BATON_FRAMES_PER_SECOND: "1000000" } })
    if (pin) Bun.spawnSync(["taskset", "-a", "-pc", "0", String(n.proc.pid)])
    nodes = [n]
    // SIGTERM when profiling: Bun writes the CPU profile at a clean exit.
    stop = () => (process.env.BATON_PROFILE_DIR ? n.stop() : n.kill())
  } else {
    const c = await TestCluster.start(opts.nodes, { BATON_FRAMES_PER_SECOND: "1000000" })
    nodes = c.nodes
    stop = () => c.stopAll()
  }
  // Pinned for this run only: whatever this process starts later (the cluster benchmarks of the
  // suite) inherits its affinity, and three nodes on one core measure nothing but the pinning.
  const affinity = pin ? /:\s*(\S+)\s*$/.exec(Bun.spawnSync(["taskset", "-p", String(process.pid)]).stdout.toString())?.[1] : undefined
  if (pin) Bun.spawnSync(["taskset", "-a", "-pc", "1", String(process.pid)])
  try {
    const players: GameSession<typeof counter>[] = []
    for (let s = 0; s < opts.sessions; s++) {
      const { id } = await createSession({ url: nodes[s % nodes.length]!.url, game: "counter" })
      for (let p = 0; p < opts.players; p++)
        players.push(await join<typeof counter>({ url: nodes[(s + p) % nodes.length]!.url, session: id, player: `p${p}`, direct: !opts.relayed }))
    }
    let measuring = false
    let count = 0
    const latencies: number[] = []
    const deadline = performance.now() + (opts.warmup + opts.seconds) * 1000
    const loop = async (player: GameSession<typeof counter>) => {
      let mine = player.state.players[player.player]?.count ?? 0
      // Spread the players' first sends over one interval, so the paced load is even.
      let nextAt = performance.now() + Math.random() * (opts.intervalMs ?? 0)
      while (performance.now() < deadline || count < (opts.minActions ?? 0)) {
        if (opts.intervalMs) {
          // A schedule, not a wait for a condition: the next send is due at a fixed time.
          if (nextAt > performance.now()) await Bun.sleep(nextAt - performance.now())
          nextAt += opts.intervalMs
        }
        const t0 = performance.now()
        const seen = new Promise<void>((resolve) => {
          const off = player.subscribe((state) => {
            if ((state.players[player.player]?.count ?? 0) > mine) {
              off()
              resolve()
            }
          })
        })
        void player.act("inc", { by: 1 })
        await seen
        mine++
        if (measuring) {
          latencies.push(performance.now() - t0)
          count++
        }
      }
    }
    const cpu0 = { t: 0, cpu: 0, own: process.cpuUsage() }
    setTimeout(async () => {
      measuring = true
      cpu0.t = performance.now()
      cpu0.own = process.cpuUsage()
      cpu0.cpu = await cpuMs(nodes)
    }, opts.warmup * 1000)
    let peakRss = 0
    const rssTimer = setInterval(async () => (peakRss = Math.max(peakRss, await rssMb(nodes))), 500)
    await Promise.all(players.map(loop))
    clearInterval(rssTimer)
    const elapsed = (performance.now() - cpu0.t) / 1000
    const cpu = (await cpuMs(nodes)) - cpu0.cpu
    const own = process.cpuUsage(cpu0.own)
    for (const p of players) p.close()
    let replicaLagMs: unknown
    if (opts.nodes > 1) replicaLagMs = await Promise.all(nodes.map(async (n) => ((await (await fetch(`${n.url}/cluster`)).json()) as { replicaLagMs: unknown }).replicaLagMs))
    return {
      config: `${opts.sessions}x${opts.players}`,
      nodes: opts.nodes,
      clients: players.length,
      actionsPerSecond: Math.round(count / elapsed),
      latencyMs: percentiles(latencies),
      serverCpuUsPerAction: Math.round(((cpu * 1000) / Math.max(1, count)) * 10) / 10,
      peakRssMb: Math.round(peakRss),
      loadGeneratorCpuPct: Math.round((own.user + own.system) / 10 / elapsed / 1000),
      replicaLagMs,
    }
  } finally {
    await stop()
    if (affinity) Bun.spawnSync(["taskset", "-a", "-p", affinity, String(process.pid)])
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
  })
  console.log(JSON.stringify(result, null, 2))
}
