import { beatsNow, checkCrashWaits, checkDrainWaits, checkEnd, checkPowerOffWaits, checkStep, POWER_OFF_WAIT_MS, type PowerOff, recovered, viewsAgree, type Violation } from "./check.ts"
import { DISK_LATENCY } from "./disk.ts"
import { ledgerGame } from "./game.ts"
import { NET, type Owner, Scheduler } from "./scheduler.ts"
import { type SimProcess, World } from "./world.ts"

export type FaultKind = "crash" | "power-off" | "pause" | "partition" | "one-way" | "latency" | "resets" | "deploy" | "join" | "slow-disk" | "flap"

export const ALL_FAULTS: readonly FaultKind[] = ["crash", "power-off", "pause", "partition", "one-way", "latency", "resets", "deploy", "join", "slow-disk", "flap"]

export interface RunOptions {
  seed: string
  nodes?: number
  /** Virtual ms of faults and play; a quiet end follows. Default 30,000. */
  activeMs?: number
  faults?: readonly FaultKind[]
  sessions?: number
  botsPerSession?: number
  /** Mean ms between a bot's actions. Default 400. */
  actEveryMs?: number
  /** Called with the world at the end, before the checks (for debugging a seed). */
  onEnd?: (world: World) => void
}

export interface RunResult {
  seed: string
  ok: boolean
  violations: Violation[]
  /** The world's events (faults, starts, stops), each stamped with virtual seconds. */
  trace: string[]
  /** sha256 of the trace and of every answer players got: equal for two runs of one seed. */
  hash: string
  steps: number
  virtualMs: number
  realMs: number
  actions: { sent: number; acked: number; failed: number }
  /** The longest a player waited for an answer, virtual ms. */
  worstAnswerMs: number
  /** The longest membership views took to agree again after a fault ended, virtual ms. */
  worstConvergeMs: number
  /** The nodes' last log lines (for a failing seed). */
  log: string[]
}

const HEARTBEAT_MS = 500
const FAILURE_MS = 3_000
/**
 * After a fault ends, membership views must agree again within this: a
 * restarted node's predecessor is declared down within the failure timeout
 * and a heartbeat, the new one is met within a dial round.
 */
const CONVERGE_BOUND_MS = 2 * FAILURE_MS
/**
 * A player connected to a node that lost power hears nothing, not even a
 * close: an idle one's SDK notices within its livenessMs (10 s by default)
 * and one watch interval (a quarter of it), one acting within about 4 s,
 * then reconnects and resends. The quiet
 * end starts no sooner than this after a power-off, so "answered" is checked
 * over the 10 s after the players could know.
 */
const PLAYER_NOTICES_MS = 12_500

/** Runs one seed: a cluster, bots, a fault plan drawn from the seed, then the invariants. */
export async function runSeed(opts: RunOptions): Promise<RunResult> {
  const sched = new Scheduler(opts.seed)
  const uninstall = sched.install()
  const violations: Violation[] = []
  const rejected = (error: unknown) => violations.push({ invariant: "uncaught", detail: `unhandled rejection at ${(sched.now / 1000).toFixed(3)} s: ${(error as Error)?.stack ?? error}` })
  process.on("unhandledRejection", rejected)
  const rnd = sched.random.fork("plan")
  const world = new World(sched, sched.random.fork("world"), { heartbeatMs: HEARTBEAT_MS, failureMs: FAILURE_MS, replicas: 2, secret: "sim-secret-0123456789abcdef", disk: DISK_LATENCY }, (v) => [ledgerGame(v)])
  sched.onError = (owner, error) => violations.push({ invariant: "uncaught", detail: `${owner} at ${(sched.now / 1000).toFixed(3)} s: ${(error as Error)?.stack ?? error}` })
  const activeMs = opts.activeMs ?? 30_000
  const faults = opts.faults ?? ALL_FAULTS
  try {
    const n = opts.nodes ?? 3
    for (let i = 1; i <= n; i++) world.start(`n${i}`, 1)
    // Set-up, each step bounded: the nodes see each other, then the sessions exist and every node's
    // registry names them all (bots join through any node).
    await sched.run(2_000, { stop: () => world.live().length === n && viewsAgree(world) })
    const sessions = opts.sessions ?? 3
    for (let i = 0; i < sessions; i++) world.createSession()
    await sched.run(sched.now + 1_000, { stop: () => world.sessions.length === sessions && world.live().every((p) => world.sessions.every((s) => p.node?.store.entry(s))) })
    world.note(`set up: ${world.live().length} nodes, ${world.sessions.length} sessions`)
    const playFrom = sched.now
    const playUntil = playFrom + activeMs
    for (const [i, session] of world.sessions.entries())
      // Half the bots move to their session's node, half stay relayed: both paths are played.
      for (let b = 0; b < (opts.botsPerSession ?? 2); b++) world.bot(`b${i}x${b}`, session, opts.actEveryMs ?? 400, playUntil, undefined, { direct: b % 2 === 1 })
    // Faults, one at a time, each healed and recovered from before the next (see `recovered`): the
    // cluster keeps a majority and a second copy of every session, so every invariant (liveness
    // included) must hold; safety must hold whatever happens.
    let version = 1
    let joined = 0
    /** Faults planned and not over yet: the play phase ends once none is left. */
    let faultsLeft = 0
    /** Nor before this (see PLAYER_NOTICES_MS). */
    let settledAt = 0
    async function faultPlan(): Promise<void> {
      const clock = sched.clockFor("world")
      await clock.sleep(2_000)
      while (faults.length > 0) {
        await clock.sleep(rnd.between(1_000, 4_000))
        const kind = rnd.pick(faults)
        const duration = rnd.between(1_000, 8_000)
        await waitUntil(clock, () => recovered(world), playUntil - 2_000 - sched.now)
        if (sched.now > playUntil - 2_000) break
        await fault(kind, duration)
      }
    }
    if (faults.length > 0) {
      faultsLeft++
      sched.after(0, () => void faultPlan().finally(() => faultsLeft--), "world")
    }
    // When the last fault ended (a heal, a resume, a restart): views must agree again within CONVERGE_BOUND_MS.
    let healedAt: number | undefined
    const crashes: { at: number; label: string; sessions: string[] }[] = []
    const drains: { from: number; to: number; label: string }[] = []
    const powerOffs: PowerOff[] = []
    /** When each fault began: a power-off's bound holds only where no other fault followed it within the bound. */
    const faultStarts: number[] = []
    let worstConvergeMs = 0
    const ended = () => void (healedAt = sched.now)
    async function fault(kind: FaultKind, duration: number): Promise<void> {
      const live = world.live()
      if (live.length === 0) return
      const p = rnd.pick(live)
      const clock = sched.clockFor("world")
      faultStarts.push(sched.now)
      switch (kind) {
        case "crash":
        case "power-off": {
          // The bound holds for a crash in a steady cluster: one that still counts an earlier dead member
          // for its majority (a crash right after a power-off) waits for that member to be dropped first,
          // and players of a node that lost power may still sit on its dead connection (seed 12185).
          const steady = sched.now >= settledAt && live.every((q) => q.node?.role?.cluster.quorum().voters.length === live.length)
          if (kind === "crash" && steady) crashes.push({ at: sched.now, label: p.label, sessions: world.sessions.filter((s) => p.node?.hasSession(s)) })
          world.crash(p, kind === "power-off")
          if (kind === "power-off") {
            settledAt = sched.now + PLAYER_NOTICES_MS
            powerOffs.push({ at: sched.now, owner: p.owner, label: p.label, steady })
          }
          await clock.sleep(duration)
          world.start(p.label, p.version)
          ended()
          return
        }
        case "pause": {
          const ms = FAILURE_MS * rnd.between(0.3, 2.5)
          world.note(`${p.label} paused for ${Math.round(ms)} ms`)
          sched.pause(p.owner)
          await clock.sleep(ms)
          sched.resume(p.owner)
          world.note(`${p.label} resumed`)
          ended()
          return
        }
        case "partition": {
          for (const q of live) if (q !== p) {
            world.net.cut(p.owner, q.owner)
            world.net.cut(q.owner, p.owner)
          }
          world.note(`${p.label} cut off from the others for ${Math.round(duration)} ms`)
          await clock.sleep(duration)
          world.net.heal()
          world.note("network healed")
          ended()
          return
        }
        case "one-way": {
          const q = rnd.pick(live.filter((x) => x !== p))
          if (!q) return
          world.net.cut(p.owner, q.owner)
          world.note(`${p.label} → ${q.label} cut (one way) for ${Math.round(duration)} ms`)
          await clock.sleep(duration)
          world.net.heal()
          world.note("network healed")
          ended()
          return
        }
        case "flap": {
          // A link between two nodes that goes down and up again and again (a flaky switch port).
          const q = rnd.pick(live.filter((x) => x !== p))
          if (!q) return
          world.note(`${p.label} ↔ ${q.label} flapping for ${Math.round(duration)} ms`)
          const end = sched.now + duration
          while (sched.now < end) {
            world.net.cut(p.owner, q.owner)
            world.net.cut(q.owner, p.owner)
            await clock.sleep(rnd.between(100, 1_000))
            world.net.heal()
            await clock.sleep(rnd.between(100, 1_000))
          }
          world.note("network healed")
          ended()
          return
        }
        case "latency": {
          const tail = rnd.between(20, 400)
          world.net.opts = { ...world.net.opts, tailMs: tail }
          world.note(`network delay tail ${Math.round(tail)} ms for ${Math.round(duration)} ms`)
          await clock.sleep(duration)
          world.net.opts = { ...world.net.opts, tailMs: 2 }
          return
        }
        case "resets": {
          world.net.opts = { ...world.net.opts, resetChance: 0.002 }
          world.note(`links reset at random for ${Math.round(duration)} ms`)
          await clock.sleep(duration)
          world.net.opts = { ...world.net.opts, resetChance: 0 }
          return
        }
        case "slow-disk": {
          world.slowDisk(p, duration)
          await clock.sleep(duration)
          world.note(`${p.label} disk fast again`)
          return
        }
        case "join": {
          const q = world.start(`j${++joined}`, version)
          world.note(`${q.label} joins`)
          ended()
          return
        }
        case "deploy": {
          version++
          world.note(`rolling deploy to v${version}`)
          for (const old of [...world.live()]) {
            const fresh = world.start(`${old.label.replace(/v\d+$/, "")}v${version}`, version)
            await waitUntil(clock, () => fresh.state === "up" && fresh.node?.status === "ready", 10_000)
            await clock.sleep(2 * HEARTBEAT_MS)
            const from = sched.now
            await world.stop(old)
            drains.push({ from, to: sched.now, label: old.label })
          }
          world.note(`rolling deploy to v${version} done`)
          ended()
          return
        }
      }
    }
    // Checked after every step; one report per session is enough to find it. Both checks read
    // what nodes hold and which processes run: a frame in flight (NET) or a bot's own event changes
    // neither (a bot reaches a node only through a frame), and time passing alone only ends a
    // lease, never grants one; so after those steps the answer is the one of the step before.
    const seen = new Set<string>()
    const each = (owner: Owner) => {
      if (owner === NET || owner.startsWith("bot:")) return
      if (healedAt !== undefined && viewsAgree(world)) {
        const ms = sched.now - healedAt
        worstConvergeMs = Math.max(worstConvergeMs, ms)
        if (ms > CONVERGE_BOUND_MS) violations.push({ invariant: "membership", detail: `views took ${Math.round(ms)} ms to agree after a fault ended (bound ${CONVERGE_BOUND_MS} ms)` })
        healedAt = undefined
      }
      for (const v of checkStep(world)) {
        const key = v.detail.split(":")[0] as string
        if (seen.has(key)) continue
        seen.add(key)
        violations.push(v)
        world.note(`VIOLATION ${v.invariant}: ${v.detail}`)
      }
    }
    // Play, then until the last fault is over and the players of a node that lost power could know
    // (at most 10 s past the play, as before the end ever came sooner: a rolling deploy can take
    // longer, and the quiet end starts then anyway).
    await sched.run(playUntil + 10_000, { each, stop: () => sched.now >= playUntil && faultsLeft === 0 && sched.now >= settledAt })
    // The quiet end: nothing fails any more; every invariant must hold once it has settled.
    world.net.heal()
    const quietFrom = sched.now
    const beats = beatsNow(world)
    await sched.run(quietFrom + 10_000, { each })
    opts.onEnd?.(world)
    violations.push(...checkEnd(world, beats, quietFrom))
    for (const c of crashes) violations.push(...checkCrashWaits(world, c, sched.now))
    for (const d of drains) violations.push(...checkDrainWaits(world, d, sched.now, powerOffs))
    // A power-off in a steady cluster, with no other fault within its bound: its players' waits are its own.
    for (const o of powerOffs)
      if (o.steady && !faultStarts.some((t) => t > o.at && t <= o.at + POWER_OFF_WAIT_MS)) violations.push(...checkPowerOffWaits(world, o, sched.now))
    const hasher = new Bun.CryptoHasher("sha256")
    for (const line of world.trace) hasher.update(`${line}\n`)
    for (const a of world.actions) hasher.update(`${a.id}:${a.position ?? "-"}:${a.failed ?? ""}\n`)
    const acked = world.actions.filter((a) => a.ackedAt !== undefined)
    return {
      seed: opts.seed,
      ok: violations.length === 0,
      violations,
      trace: world.trace,
      hash: hasher.digest("hex").slice(0, 16),
      steps: sched.steps,
      virtualMs: sched.now,
      realMs: 0,
      actions: { sent: world.actions.length, acked: acked.length, failed: world.actions.filter((a) => a.failed).length },
      worstAnswerMs: Math.max(0, ...acked.map((a) => (a.ackedAt as number) - a.sentAt)),
      worstConvergeMs,
      log: world.log.slice(-3000),
    }
  } finally {
    process.off("unhandledRejection", rejected)
    uninstall()
    for (const p of world.procs as SimProcess[]) sched.kill(p.owner)
  }
}

async function waitUntil(clock: { sleep(ms: number): Promise<void> }, cond: () => boolean, maxMs: number): Promise<void> {
  for (let waited = 0; !cond() && waited < maxMs; waited += 100) await clock.sleep(100)
}

/** realMs is filled in by the caller (it reads the real clock, which a run replaces). */
export async function timedRun(opts: RunOptions): Promise<RunResult> {
  const t0 = performance.now()
  const r = await runSeed(opts)
  r.realMs = Math.round(performance.now() - t0)
  return r
}
