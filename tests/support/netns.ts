import { existsSync } from "node:fs"
import { type NodeProcess, type StartOptions, startNodeProcess } from "./node-process.ts"
import { waitUntil } from "./wait.ts"
import { TEST_SECRET, waitViewsConverged } from "./cluster.ts"

/**
 * Real network partitions for real node processes: N Linux network
 * namespaces, each with a veth pair onto a bridge in the root namespace
 * (where the test and its players live), and iptables DROP rules inside the
 * namespaces to cut node from node. Needs root, iproute2 and iptables (this
 * kernel may have no netem: packets are dropped, never delayed).
 *
 *   root ns: bridge bt<pid>br 10.X.0.254/24
 *   bt-<pid>-0: 10.X.0.1    bt-<pid>-1: 10.X.0.2    ...
 *
 * Every name carries the test process's pid: a later run removes what a
 * dead run left behind, and two runs at once do not collide.
 */

export interface CutOptions {
  /** Drop only packets from a to b (b → a still passes at packet level). */
  oneWay?: boolean
}

function run(cmd: string[], opts: { allowFail?: boolean } = {}): { ok: boolean; out: string; err: string } {
  const p = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" })
  const res = { ok: p.exitCode === 0, out: p.stdout.toString(), err: p.stderr.toString() }
  if (!res.ok && !opts.allowFail) throw new Error(`${cmd.join(" ")} failed (${p.exitCode}): ${res.err.trim() || res.out.trim()}`)
  return res
}

function which(bin: string): string | null {
  return Bun.which(bin) ?? Bun.which(bin, { PATH: "/usr/sbin:/sbin:/usr/bin:/bin" })
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true
  return existsSync(`/proc/${pid}`)
}

const NS_RE = /^bt-(\d+)-\d+$/
const LINK_RE = /^bt(\d+)(?:br|v\d+[hn])$/

/** Removes namespaces, veths and bridges of earlier runs whose process is dead. */
export function removeLeftovers(): string[] {
  const removed: string[] = []
  if (!which("ip")) return removed
  for (const line of run(["ip", "netns", "list"], { allowFail: true }).out.split("\n")) {
    const name = line.trim().split(/\s+/)[0] ?? ""
    const m = NS_RE.exec(name)
    if (m && !pidAlive(Number(m[1]))) {
      run(["ip", "netns", "del", name], { allowFail: true })
      removed.push(name)
    }
  }
  for (const line of run(["ip", "-o", "link", "show"], { allowFail: true }).out.split("\n")) {
    const name = /^\d+:\s+([^:@\s]+)/.exec(line)?.[1] ?? ""
    const m = LINK_RE.exec(name)
    if (m && !pidAlive(Number(m[1]))) {
      run(["ip", "link", "del", name], { allowFail: true })
      removed.push(name)
    }
  }
  return removed
}

export type NetnsSupport = { ok: true; iptables: string } | { ok: false; reason: string }

let support: NetnsSupport | undefined

/**
 * Whether this machine can run the partition tests: root, `ip`, and an
 * iptables that works inside a network namespace (nft or legacy, whichever
 * works; tried in a throwaway namespace).
 */
export function netnsSupport(): NetnsSupport {
  if (support) return support
  if (process.platform !== "linux") return (support = { ok: false, reason: "not Linux" })
  if (process.getuid?.() !== 0) return (support = { ok: false, reason: "not root (network namespaces need root)" })
  if (!which("ip")) return (support = { ok: false, reason: "no `ip` (apt-get install iproute2)" })
  removeLeftovers()
  const probe = `bt-${process.pid}-probe`
  const made = run(["ip", "netns", "add", probe], { allowFail: true })
  if (!made.ok) return (support = { ok: false, reason: `cannot create a network namespace: ${made.err.trim()}` })
  try {
    const tried: string[] = []
    for (const bin of ["iptables", "iptables-nft", "iptables-legacy"]) {
      const path = which(bin)
      if (!path) {
        tried.push(`${bin}: not installed`)
        continue
      }
      const add = run(["ip", "netns", "exec", probe, path, "-w", "-A", "INPUT", "-s", "192.0.2.77", "-j", "DROP"], { allowFail: true })
      const list = run(["ip", "netns", "exec", probe, path, "-w", "-S", "INPUT"], { allowFail: true })
      if (add.ok && list.out.includes("192.0.2.77")) return (support = { ok: true, iptables: path })
      tried.push(`${bin}: ${(add.err || list.err).trim().split("\n")[0]}`)
    }
    return (support = { ok: false, reason: `no iptables works inside a network namespace (apt-get install iptables): ${tried.join("; ")}` })
  } finally {
    run(["ip", "netns", "del", probe], { allowFail: true })
  }
}

/** The bridge, the namespaces and their addresses, and the faults between them. */
export class NetnsLab {
  readonly prefix = `bt-${process.pid}`
  readonly bridge = `bt${process.pid}br`
  /** Namespace names, one per node slot. */
  readonly ns: string[] = []
  /** Each namespace's address. */
  readonly ips: string[] = []
  /** The bridge's address in the root namespace (where players come from). */
  readonly hostIp: string
  readonly subnet: string
  readonly iptables: string
  #cuts: string[] = []
  #gone = false

  private constructor(n: number, subnet: string, iptables: string) {
    this.subnet = subnet
    this.hostIp = `${subnet}.254`
    this.iptables = iptables
    for (let i = 0; i < n; i++) {
      this.ns.push(`${this.prefix}-${i}`)
      this.ips.push(`${subnet}.${i + 1}`)
    }
  }

  /** Builds the bridge and `n` namespaces; throws when netnsSupport() says no. */
  static create(n: number): NetnsLab {
    const s = netnsSupport()
    if (!s.ok) throw new Error(`network namespaces unavailable: ${s.reason}`)
    const lab = new NetnsLab(n, freeSubnet(), s.iptables)
    labs.add(lab)
    installExitCleanup()
    try {
      lab.#build()
    } catch (error) {
      lab.destroy()
      throw error
    }
    return lab
  }

  #build(): void {
    run(["ip", "link", "add", "name", this.bridge, "type", "bridge"])
    run(["ip", "addr", "add", `${this.hostIp}/24`, "dev", this.bridge])
    run(["ip", "link", "set", this.bridge, "up"])
    for (const [i, ns] of this.ns.entries()) {
      const host = `bt${process.pid}v${i}h`
      const inside = `bt${process.pid}v${i}n`
      run(["ip", "netns", "add", ns])
      run(["ip", "link", "add", host, "type", "veth", "peer", "name", inside])
      run(["ip", "link", "set", inside, "netns", ns])
      run(["ip", "link", "set", host, "master", this.bridge])
      run(["ip", "link", "set", host, "up"])
      run(["ip", "-n", ns, "addr", "add", `${this.ips[i]}/24`, "dev", inside])
      run(["ip", "-n", ns, "link", "set", inside, "up"])
      run(["ip", "-n", ns, "link", "set", "lo", "up"])
    }
  }

  /** Runs a command inside namespace `i`. */
  exec(i: number, cmd: string[], opts: { allowFail?: boolean } = {}) {
    return run(["ip", "netns", "exec", this.ns[i] as string, ...cmd], opts)
  }

  #rule(i: number, rule: string[]): void {
    this.exec(i, [this.iptables, "-w", "-A", ...rule])
    this.#cuts.push(`${this.ns[i]}: ${rule.join(" ")}`)
  }

  /**
   * Drops packets between node a and node b (both ways, or only a → b),
   * with rules inside both namespaces. Players (the bridge address) still
   * reach every node.
   */
  cut(a: number, b: number, opts: CutOptions = {}): void {
    const ipA = this.ips[a] as string
    const ipB = this.ips[b] as string
    // a → b: a does not send to b, and b does not take from a.
    this.#rule(a, ["OUTPUT", "-d", ipB, "-j", "DROP"])
    this.#rule(b, ["INPUT", "-s", ipA, "-j", "DROP"])
    if (opts.oneWay) return
    this.#rule(b, ["OUTPUT", "-d", ipA, "-j", "DROP"])
    this.#rule(a, ["INPUT", "-s", ipB, "-j", "DROP"])
  }

  /** Cuts node `i` from every other node, both ways. */
  isolate(i: number): void {
    for (let j = 0; j < this.ns.length; j++) if (j !== i) this.cut(i, j)
  }

  /** The rules in force, for reports. */
  get cuts(): readonly string[] {
    return this.#cuts
  }

  /** Removes every rule (flushes INPUT and OUTPUT in each namespace). */
  heal(): void {
    for (let i = 0; i < this.ns.length; i++) {
      this.exec(i, [this.iptables, "-w", "-F", "INPUT"])
      this.exec(i, [this.iptables, "-w", "-F", "OUTPUT"])
    }
    this.#cuts = []
  }

  /** Whether nothing listens on `port` in namespace `i` (each namespace has its own ports). */
  portFree(i: number, port: number): boolean {
    const r = this.exec(i, ["ss", "-Htln", `sport = :${port}`], { allowFail: true })
    if (!r.ok) throw new Error(`ss failed in ${this.ns[i]}: ${r.err}`)
    return r.out.trim() === ""
  }

  /** Removes the namespaces, their veths and the bridge. Safe to call twice. */
  destroy(): void {
    if (this.#gone) return
    this.#gone = true
    labs.delete(this)
    for (const ns of this.ns) run(["ip", "netns", "del", ns], { allowFail: true })
    for (let i = 0; i < this.ns.length; i++) run(["ip", "link", "del", `bt${process.pid}v${i}h`], { allowFail: true })
    run(["ip", "link", "del", this.bridge], { allowFail: true })
  }

  /** What of ours is still there (for the test to assert nothing is left behind). */
  leftovers(): string[] {
    const ns = run(["ip", "netns", "list"], { allowFail: true }).out
    const links = run(["ip", "-o", "link", "show"], { allowFail: true }).out
    const names = [...this.ns, this.bridge, ...this.ns.map((_, i) => `bt${process.pid}v${i}h`)]
    return names.filter((n) => new RegExp(`(^|\\s|: )${n}(\\s|:|@|$)`, "m").test(`${ns}\n${links}`))
  }
}

/** A /24 in 10.213-10.250 no interface or route uses. */
function freeSubnet(): string {
  const used = `${run(["ip", "-o", "addr", "show"], { allowFail: true }).out}\n${run(["ip", "route", "show", "table", "all"], { allowFail: true }).out}`
  for (let attempt = 0; attempt < 100; attempt++) {
    const x = 213 + Math.floor(Math.random() * 38)
    const subnet = `10.${x}.0`
    if (!used.includes(`${subnet}.`)) return subnet
  }
  throw new Error("no free 10.213-10.250 /24 for the test network")
}

const labs = new Set<NetnsLab>()
const nodes = new Set<NodeProcess>()
const hogs = new Set<{ kill(sig?: number | NodeJS.Signals): void }>()
let exitHooked = false

/** On exit and on SIGINT/SIGTERM/SIGHUP: kill our nodes and hogs, remove our namespaces. */
function installExitCleanup(): void {
  if (exitHooked) return
  exitHooked = true
  const clean = () => {
    for (const n of nodes) n.proc.kill("SIGKILL")
    for (const h of hogs) h.kill("SIGTERM") // timeout passes it on to the busy loop
    for (const lab of [...labs]) lab.destroy()
  }
  process.on("exit", clean)
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.once(sig, () => {
      clean()
      process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGTERM" ? 15 : 1))
    })
}

/**
 * Busy processes (one per core by default) for `ms`: a CPU-starved machine
 * with no network fault. Each is `timeout -s KILL <ms+2 s> sh -c 'busy loop'`:
 * stopped with SIGTERM, which timeout passes on to its shell (a SIGKILL
 * would end timeout alone and leave the loop running), and killed by
 * timeout itself should this process die first.
 */
export function cpuHog(ms: number, count = navigator.hardwareConcurrency || 2): { stop(): Promise<void> } {
  installExitCleanup()
  const secs = String(Math.ceil(ms / 1000) + 2)
  const procs = Array.from({ length: count }, () => Bun.spawn(["timeout", "-s", "KILL", secs, "sh", "-c", "while :; do :; done"], { stdin: "ignore", stdout: "ignore", stderr: "ignore" }))
  for (const p of procs) hogs.add(p)
  const timer = setTimeout(() => void stop(), ms)
  const stop = async () => {
    clearTimeout(timer)
    for (const p of procs) p.kill("SIGTERM")
    await Promise.all(procs.map((p) => p.exited))
    for (const p of procs) hogs.delete(p)
  }
  return { stop }
}

export interface NetnsNodeOptions extends Omit<StartOptions, "netns" | "host" | "port"> {
  port?: number
}

/**
 * A cluster of real node processes, one slot per namespace (a replacement
 * starts in the same namespace, at the same address and port, so players
 * who reconnect to "their" node find the new one there).
 */
export class NetnsCluster {
  readonly lab: NetnsLab
  /** The process in each slot now (a replaced one is in `all`). */
  readonly slots: (NodeProcess | undefined)[]
  readonly all: NodeProcess[] = []
  /** When each process exited (Date.now()), for reading its events against the others'. */
  readonly exitedAt = new Map<NodeProcess, number>()
  readonly #slotOf = new Map<NodeProcess, number>()
  readonly urls: string[]
  readonly ports: number[]
  #env: Record<string, string>
  #app: string | undefined
  #lifetimeMs: number

  constructor(lab: NetnsLab, opts: { app?: string; env?: Record<string, string>; basePort?: number; lifetimeMs?: number } = {}) {
    this.lab = lab
    this.#app = opts.app
    this.#env = opts.env ?? {}
    this.#lifetimeMs = opts.lifetimeMs ?? 120_000
    const base = opts.basePort ?? 7000
    this.ports = lab.ns.map((_, i) => base + i)
    this.urls = lab.ips.map((ip, i) => `http://${ip}:${this.ports[i]}`)
    this.slots = lab.ns.map(() => undefined)
  }

  /** Starts a node in every slot and waits until each sees every other ready. */
  async start(): Promise<void> {
    await Promise.all(this.lab.ns.map((_, i) => this.startSlot(i)))
    await this.waitConverged()
  }

  /** Starts (or restarts) the node of slot `i` in its namespace. */
  async startSlot(i: number, opts: NetnsNodeOptions = {}): Promise<NodeProcess> {
    const port = this.ports[i] as number
    await waitUntil(() => this.lab.portFree(i, port), `port ${port} free in ${this.lab.ns[i]}`, { timeoutMs: 10_000, everyMs: 100 })
    const node = await startNodeProcess({
      app: this.#app,
      lifetimeMs: this.#lifetimeMs,
      ...opts,
      netns: this.lab.ns[i],
      host: this.lab.ips[i],
      port,
      env: {
        BATON_CLUSTER_SECRET: TEST_SECRET,
        BATON_PEERS: this.urls.join(","),
        BATON_HEARTBEAT_MS: "200",
        BATON_FAILURE_MS: "3000",
        ...this.#env,
        ...opts.env,
      },
    })
    nodes.add(node)
    void node.proc.exited.then(() => {
      nodes.delete(node)
      this.exitedAt.set(node, Date.now())
    })
    this.slots[i] = node
    this.#slotOf.set(node, i)
    this.all.push(node)
    return node
  }

  /** The slot a process ran in. */
  slotOf(node: NodeProcess): number {
    return this.#slotOf.get(node) ?? -1
  }

  /** A short name for a process: its slot and its start order ("slot0#3"). */
  label(node: NodeProcess): string {
    return `slot${this.slotOf(node)}#${this.all.indexOf(node)}`
  }

  isLive(i: number): boolean {
    const n = this.slots[i]
    return !!n && n.proc.exitCode === null && n.proc.signalCode === null
  }

  get live(): number[] {
    return this.slots.flatMap((_, i) => (this.isLive(i) ? [i] : []))
  }

  async idOf(i: number): Promise<string> {
    return ((await (await fetch(`${this.urls[i]}/cluster`, { signal: AbortSignal.timeout(3_000) })).json()) as { node: string }).node
  }

  async members(i: number): Promise<{ id: string; up: boolean; status: string }[]> {
    return ((await (await fetch(`${this.urls[i]}/cluster`, { signal: AbortSignal.timeout(3_000) })).json()) as { members: { id: string; up: boolean; status: string }[] }).members
  }

  /** Every live node sees every other live node up and ready. */
  async waitConverged(timeoutMs = 20_000): Promise<void> {
    await waitViewsConverged(
      this.live.map((i) => ({ url: this.urls[i] as string, id: () => this.idOf(i), members: () => this.members(i) })),
      timeoutMs,
    )
  }

  /** SIGKILLs every node this cluster started. */
  async killAll(): Promise<void> {
    await Promise.all(this.all.filter((n) => n.proc.exitCode === null && n.proc.signalCode === null).map((n) => n.kill()))
  }
}
