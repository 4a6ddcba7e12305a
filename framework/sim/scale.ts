import { ledgerGame } from "./game.ts"
import { Scheduler } from "./scheduler.ts"
import { World } from "./world.ts"

export interface ScaleFigures {
  nodes: number
  sessions: number
  /** Virtual ms from the last start to every node seeing every other up. */
  convergeMs: number
  /** Sessions per node: the busiest and the least busy against the mean. */
  balance: { max: number; min: number; mean: number; maxOverMean: number }
  /** Control frames one node sends per second in steady state (heartbeats, echoes, replication). */
  controlFramesPerNodePerSecond: number
  /** Links each node holds (one control and one sync link per peer). */
  linksPerNode: number
  /** A new node joins: virtual ms until every node sees it, and it every node. */
  joinMs: number
  /** A node crashes silently: virtual ms until every node sees it down; until its sessions run again. */
  crashDetectedMs: number
  crashRecoveredMs: number
  /** Real CPU ms of the longest single event on any node (a full scan shows here), and per node per simulated second. */
  longestEventMs: number
  cpuMsPerNodePerSecond: number
  /** Real ms of one sweep (the failover and orphan scan) over every registry entry on one node. */
  sweepMs: number
  realMs: number
}

/**
 * A big cluster on the simulator: `nodes` nodes (each listing three seeds,
 * the rest learned from peers), `sessions` sessions, then a join and a
 * crash. Measures what the docs report (docs/simulator.md, "Scale").
 */
export async function runScale(opts: { nodes: number; sessions: number; seed?: string; progress?: (line: string) => void }): Promise<ScaleFigures> {
  const realNow = performance.now.bind(performance)
  const started = realNow()
  const say = opts.progress ?? (() => {})
  const sched = new Scheduler(opts.seed ?? "scale")
  const undo = sched.install()
  const world = new World(sched, sched.random.fork("w"), { heartbeatMs: 500, failureMs: 3_000, replicas: 2, secret: "scale-secret-0123456789abcdef" }, () => [ledgerGame(1)])
  try {
    const labels = Array.from({ length: opts.nodes }, (_, i) => `n${i + 1}`)
    const seeds = labels.slice(0, 3)
    for (const l of labels) world.start(l, 1, seeds)
    const everyoneSeesAll = () => {
      const live = world.live()
      return live.length === world.procs.filter((p) => p.state === "up" || p.state === "starting").length && live.every((p) => (p.node?.role?.cluster.members() ?? []).filter((m) => m.up && m.status === "ready").length === live.length)
    }
    const until = async (cond: () => boolean, maxMs: number) => {
      const from = sched.now
      let met = cond()
      if (!met) await sched.run(from + maxMs, { stop: () => (met = cond()) })
      return met ? sched.now - from : Number.NaN
    }
    const convergeMs = await until(everyoneSeesAll, 120_000)
    say(`${opts.nodes} nodes see each other after ${Math.round(convergeMs)} ms (virtual)`)
    // Sessions created through random nodes, in batches (placement picks each owner).
    for (let made = 0; made < opts.sessions; ) {
      const batch = Math.min(500, opts.sessions - made)
      for (let i = 0; i < batch; i++) world.createSession()
      made += batch
      await sched.run(sched.now + 1_000)
      say(`${world.sessions.length}/${opts.sessions} sessions`)
    }
    await sched.run(sched.now + 5_000)
    const owners = new Map<string, number>()
    for (const p of world.live()) owners.set(p.label, p.node?.sessionCount ?? 0)
    const counts = [...owners.values()]
    const mean = counts.reduce((a, b) => a + b, 0) / counts.length
    // Steady state.
    const frames0 = world.net.frames
    sched.measure = true
    const t0 = sched.now
    await sched.run(t0 + 10_000)
    const secs = (sched.now - t0) / 1000
    const controlFramesPerNodePerSecond = (world.net.frames - frames0) / secs / opts.nodes
    const cpu = [...sched.cost.entries()].filter(([o]) => o !== "world" && o !== "net")
    const cpuMsPerNodePerSecond = cpu.reduce((a, [, c]) => a + c.total, 0) / secs / opts.nodes
    say(`steady state: ${Math.round(controlFramesPerNodePerSecond)} frames per node per second`)
    // One sweep over every entry, on one node, timed for real.
    const one = world.live()[0]
    const s0 = realNow()
    await one?.node?.role?.handoff.sweep()
    const sweepMs = realNow() - s0
    // A join.
    sched.cost.clear()
    world.start(`n${opts.nodes + 1}`, 1, seeds)
    const joinMs = await until(everyoneSeesAll, 60_000)
    say(`a join is seen everywhere after ${Math.round(joinMs)} ms`)
    await sched.run(sched.now + 5_000)
    // A silent crash.
    const victim = world.live()[5] ?? world.live()[0]
    const victimId = victim?.node?.id as string
    const theirs = world.sessions.filter((s) => victim?.node?.hasSession(s))
    if (victim) world.crash(victim, true)
    const crashDetectedMs = await until(() => world.live().every((p) => p.node?.role?.cluster.member(victimId)?.up !== true), 60_000)
    const crashRecoveredMs = await until(() => theirs.every((s) => world.live().some((p) => p.node?.hasSession(s))), 60_000)
    say(`a crash is seen everywhere after ${Math.round(crashDetectedMs)} ms; its ${theirs.length} sessions run again after ${Math.round(crashRecoveredMs)} ms`)
    const longestEventMs = Math.max(0, ...[...sched.cost.entries()].filter(([o]) => o !== "world" && o !== "net").map(([, c]) => c.max))
    return {
      nodes: opts.nodes,
      sessions: world.sessions.length,
      convergeMs,
      balance: { max: Math.max(...counts), min: Math.min(...counts), mean, maxOverMean: Math.max(...counts) / mean },
      controlFramesPerNodePerSecond,
      linksPerNode: 2 * (opts.nodes - 1),
      joinMs,
      crashDetectedMs,
      crashRecoveredMs,
      longestEventMs,
      cpuMsPerNodePerSecond,
      sweepMs,
      realMs: realNow() - started,
    }
  } finally {
    for (const p of world.procs) sched.kill(p.owner)
    undo()
  }
}
