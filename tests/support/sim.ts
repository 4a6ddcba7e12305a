import type { AnyGame } from "../../framework/game/index.ts"
import { ledgerGame } from "../../framework/sim/game.ts"
import { Scheduler } from "../../framework/sim/scheduler.ts"
import { type SimProcess, World } from "../../framework/sim/world.ts"
import type { GameSession } from "../../framework/client/index.ts"

/**
 * A cluster on the simulator for scenario tests: real nodes, real runtime,
 * real automerge-repo and SDK, on virtual time and a simulated network, so
 * a scenario is exact and fast and does not depend on the machine being
 * quiet. The run replaces the process's clock and timers; `simulate`
 * undoes that when the scenario ends.
 */
export class Sim {
  readonly sched: Scheduler
  readonly world: World
  readonly failureMs: number
  readonly heartbeatMs: number

  constructor(seed: string, opts: { failureMs?: number; heartbeatMs?: number; replicas?: number; games?: (version: number) => AnyGame[] } = {}) {
    this.sched = new Scheduler(seed)
    this.failureMs = opts.failureMs ?? 3_000
    this.heartbeatMs = opts.heartbeatMs ?? 500
    this.world = new World(
      this.sched,
      this.sched.random.fork("world"),
      { heartbeatMs: this.heartbeatMs, failureMs: this.failureMs, replicas: opts.replicas ?? 2, secret: "scenario-secret-0123456789abcdef" },
      opts.games ?? ((v) => [ledgerGame(v)]),
    )
  }

  get now(): number {
    return this.sched.now
  }

  /** Lets `ms` of virtual time pass. */
  async run(ms: number): Promise<void> {
    await this.sched.run(this.sched.now + ms)
  }

  /** Runs until `cond` holds (checked after every event); the virtual ms it took. Throws, naming `what`, past `maxMs`. */
  async until(cond: () => boolean, maxMs: number, what: string): Promise<number> {
    const from = this.sched.now
    let met = cond()
    if (!met) await this.sched.run(from + maxMs, { stop: () => (met = cond()) })
    if (!met) throw new Error(`${what}: not within ${maxMs} ms of virtual time`)
    return this.sched.now - from
  }

  /** Starts nodes and waits until every one sees every other up and ready. */
  async startCluster(labels: string[], version = 1): Promise<SimProcess[]> {
    const procs = labels.map((l) => this.world.start(l, version))
    await this.until(() => this.converged(), 10_000, `${labels.join(", ")} see each other`)
    return procs
  }

  proc(label: string): SimProcess {
    const p = [...this.world.procs].reverse().find((q) => q.label === label)
    if (!p) throw new Error(`no process ${label}`)
    return p
  }

  /** Whether `a` sees `b` (its current incarnation) up. */
  sees(a: string, b: string): boolean {
    const id = this.proc(b).node?.id
    return id !== undefined && this.proc(a).node?.role?.cluster.member(id)?.up === true
  }

  /** Every live node sees exactly the live nodes up and ready. */
  converged(): boolean {
    const running = this.world.procs.filter((p) => p.state === "starting" || p.state === "up")
    const live = this.world.live()
    if (live.length === 0 || live.length < running.length || live.some((p) => p.node?.status !== "ready")) return false
    const ids = live.map((p) => p.node?.id).sort()
    return live.every((p) => {
      const up = (p.node?.role?.cluster.members() ?? []).filter((m) => m.up && m.status === "ready").map((m) => m.id).sort()
      return JSON.stringify(up) === JSON.stringify(ids)
    })
  }

  /** Cuts a process off from the given others (default: every other process), both ways. */
  isolate(p: SimProcess, from: SimProcess[] = this.world.procs.filter((q) => q !== p)): void {
    for (const q of from) {
      this.world.net.cut(p.owner, q.owner)
      this.world.net.cut(q.owner, p.owner)
    }
  }

  /** Crashes a process (silent: it loses power, its links are not reset). */
  crash(label: string, silent = false): void {
    this.world.crash(this.proc(label), silent)
  }

  /** A graceful stop (SIGTERM): drains, hands off, leaves; runs until the process has exited. */
  async stop(label: string, maxMs = 15_000): Promise<void> {
    const p = this.proc(label)
    void this.world.stop(p)
    await this.until(() => p.state === "gone" || p.state === "crashed", maxMs, `${label} stops`)
  }

  /**
   * A session `owner` runs, and a bot `name` playing it through `via` (so
   * relayed, every 200 ms for `forMs`), joined and a second into play; the
   * notices it gets from then on are in `notices`.
   */
  async relayedPlayer(owner: SimProcess, via: SimProcess, name: string, forMs: number, livenessMs?: number): Promise<{ session: string; notices: { at: number; code: string }[] }> {
    let session: string | undefined
    for (let i = 0; i < 12 && !session; i++) {
      const s = await this.createSession(owner.label)
      if (this.owner(s) === owner) session = s
    }
    if (!session) throw new Error(`no session placed on ${owner.label} in 12 tries`)
    this.world.bot(name, session, 200, this.sched.now + forMs, this.world.url(via), { direct: false, livenessMs })
    await this.until(() => this.bot(name)?.status === "open", 5_000, "the relayed player joins")
    await this.run(1_000)
    const notices: { at: number; code: string }[] = []
    this.bot(name)?.onNotice((n) => void notices.push({ at: this.sched.now, code: n?.code ?? "resolved" }))
    return { session, notices }
  }

  /** Creates a session through `via` (placement decides its owner); resolves with its id. */
  async createSession(via: string): Promise<string> {
    const before = this.world.sessions.length
    const p = this.proc(via)
    this.sched.after(0, () => void p.node?.createSession("ledger").then((s) => this.world.sessions.push(s.id)), p.owner)
    await this.until(() => this.world.sessions.length > before, 2_000, "the session is created")
    return this.world.sessions[this.world.sessions.length - 1] as string
  }

  /** The live process running a session, if one does. */
  owner(session: string): SimProcess | undefined {
    return this.world.live().find((p) => p.node?.hasSession(session))
  }

  /** Bots playing `session` through the front door until `forMs` from now; their SDK sessions by name. */
  async play(session: string, bots: string[], forMs: number, everyMs = 200): Promise<GameSession[]> {
    for (const b of bots) this.world.bot(b, session, everyMs, this.sched.now + forMs)
    await this.until(() => bots.every((b) => this.world.bots.get(b)?.status === "open"), 5_000, `${bots.join(", ")} join ${session}`)
    return bots.map((b) => this.world.bots.get(b) as GameSession)
  }

  bot(name: string): GameSession | undefined {
    return this.world.bots.get(name)
  }

  /**
   * What the players were told against what the session holds: every
   * acknowledged action is in the final state once, at the position its ack
   * named. Returns the problems (empty: none).
   */
  lostOrDoubled(session: string): string[] {
    const owner = this.owner(session)
    if (!owner) return [`no live node runs ${session}`]
    const applied = (owner.node?.hosted(session)?.session.record.state as { applied: string[] }).applied
    const problems: string[] = []
    const count = new Map<string, number>()
    for (const id of applied) count.set(id, (count.get(id) ?? 0) + 1)
    for (const [id, n] of count) if (n > 1) problems.push(`${id} applied ${n} times`)
    for (const a of this.world.actions)
      if (a.session === session && a.position !== undefined && applied[a.position - 1] !== a.id) problems.push(`${a.id} acknowledged at ${a.position}, lost`)
    return problems
  }

  /** Actions of a session acknowledged so far. */
  acked(session: string): number {
    return this.world.actions.filter((a) => a.session === session && a.ackedAt !== undefined).length
  }
}

/** Runs a scenario on a fresh simulated cluster; the process's clock and timers are the runtime's again after. */
export async function simulate<T>(seed: string, fn: (sim: Sim) => Promise<T>, opts?: ConstructorParameters<typeof Sim>[1]): Promise<T> {
  const sim = new Sim(seed, opts)
  const undo = sim.sched.install()
  try {
    return await fn(sim)
  } finally {
    for (const p of sim.world.procs) sim.sched.kill(p.owner)
    undo()
  }
}
