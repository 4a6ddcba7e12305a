import { resolve } from "node:path"
import type { Subprocess } from "bun"
import type { NodeEvent } from "../node/index.ts"

/** One node process of the dev cluster, with what its events told us. */
export interface DevNode {
  index: number
  port: number
  url: string
  proc: Subprocess<"ignore", "pipe", "pipe">
  id?: string
  ready: boolean
  exited: boolean
  /** Peers this node sees up (its member-up and member-down events). */
  seen: Set<string>
  /** "moved N of M sessions in X ms", once it drained. */
  drainSummary?: string
  /** Resolves when the node's event channel has closed: every event it sent has arrived. */
  eventsDone: Promise<void>
}

export interface DevEvent {
  time: number
  text: string
}

const CLI = resolve(import.meta.dir, "main.ts")

/**
 * automerge-repo writes to the console about documents that moved away while
 * it was still syncing them ("error waiting for … to be in one of states",
 * with stack traces): expected during moves, not worth a developer's eye.
 */
const NOISE = /TimeoutNegativeWarning|Timeout duration|--trace-warnings|error waiting for|sync with peers threw|caught whenready|Actor terminated|^\s+at |^\s*\d+ \||^\s*\^|^error: |xstate|^\s*$/

/**
 * Runs N real node processes on consecutive ports that know each other
 * (BATON_PEERS), in dev mode (no secret needed). Learns what they do from
 * the typed events each sends over Bun IPC (event-channel.ts), and shows a
 * developer the notable ones, and the nodes' warnings, errors and stray
 * output (their log lines are shown, never read for decisions).
 */
export class DevCluster {
  readonly nodes: DevNode[] = []
  readonly events: DevEvent[] = []
  #onEvent: () => void

  constructor(
    readonly appDir: string,
    readonly basePort: number,
    readonly count: number,
    readonly env: Record<string, string> = {},
    onEvent: () => void = () => {},
  ) {
    this.#onEvent = onEvent
  }

  /** Nodes alternate between two port ranges, so a roll can start a node before its predecessor stops. */
  get peers(): string {
    return Array.from({ length: 2 * this.count }, (_, i) => `http://127.0.0.1:${this.basePort + 1 + i}`).join(",")
  }

  #generation = 1
  #rolling: Promise<void> | undefined

  get version(): string {
    return `dev-${this.#generation}`
  }

  start(): void {
    for (let i = 0; i < this.count; i++) this.spawn(i, this.basePort + 1 + i, { BATON_APP_VERSION: this.version })
  }

  /**
   * A rolling restart with the code as it is on disk now: one node at a
   * time, start its successor (the next version), wait until it is ready and
   * joined, drain the old one (its sessions move to the new version), go on.
   */
  roll(progress: (line: string) => void = (l) => this.event(l)): Promise<void> {
    this.#rolling ??= this.#roll(progress).finally(() => {
      this.#rolling = undefined
    })
    return this.#rolling
  }

  async #roll(progress: (line: string) => void): Promise<void> {
    this.#generation++
    const version = this.version
    const old = this.nodes.filter((n) => !n.exited)
    const started = performance.now()
    progress(`roll to ${version}: ${old.length} nodes, one at a time`)
    for (const [i, prev] of old.entries()) {
      if (this.#stopping) return
      const range = Math.floor((prev.port - this.basePort - 1) / this.count)
      const port = this.basePort + 1 + ((1 - range) * this.count + (prev.port - this.basePort - 1) % this.count)
      progress(`[${i + 1}/${old.length}] starting ${version} on :${port}`)
      const next = this.spawn(prev.index, port, { BATON_APP_VERSION: version })
      if (!(await this.#until(() => next.ready || next.exited, 30_000)) || next.exited) {
        progress(`[${i + 1}/${old.length}] the new node did not start; roll stopped (the old one keeps running)`)
        return
      }
      await this.#until(() => this.#joined(next), 15_000)
      progress(`[${i + 1}/${old.length}] :${port} ready and joined; draining ${prev.id ?? prev.port}`)
      prev.ready = false
      prev.proc.kill("SIGTERM")
      await prev.proc.exited
      // The exit can be seen before the last events (drained, stopped) are read from the channel.
      await Promise.race([prev.eventsDone, Bun.sleep(1_000)])
      progress(`[${i + 1}/${old.length}] ${prev.id ?? prev.port} ${prev.drainSummary ?? "stopped"}`)
    }
    progress(`roll to ${version} done in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  }

  /** Every other live node lists `n` as up and ready. */
  #joined(n: DevNode): boolean {
    return this.nodes.filter((m) => !m.exited && m !== n).every((m) => m.seen.has(n.id ?? ""))
  }

  async #until(cond: () => boolean, ms: number): Promise<boolean> {
    const deadline = Date.now() + ms
    while (!cond()) {
      if (Date.now() > deadline) return false
      await Bun.sleep(50)
    }
    return true
  }

  spawn(index: number, port: number, extraEnv: Record<string, string> = {}): DevNode {
    let eventsClosed = () => {}
    const eventsDone = new Promise<void>((resolve) => (eventsClosed = resolve))
    // Set below, before any message can arrive (they are delivered on a later turn).
    let node: DevNode | undefined
    const proc = Bun.spawn(["bun", CLI, "start", this.appDir], {
      env: {
        ...process.env,
        PORT: String(port),
        HOST: "127.0.0.1",
        BATON_DEV: "1",
        BATON_DEV_PAGES: "front-door",
        BATON_LOG: "json",
        BATON_PEERS: this.peers,
        ...this.env,
        ...extraEnv,
      },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      ipc: (message) => node && this.#nodeEvent(node, message as NodeEvent),
      onDisconnect: () => eventsClosed(),
    })
    const started: DevNode = { index, port, url: `http://127.0.0.1:${port}`, proc, ready: false, exited: false, seen: new Set(), eventsDone }
    node = started
    this.nodes.push(started)
    void this.#showLogs(started, proc.stdout)
    void this.#showLogs(started, proc.stderr)
    void proc.exited.then((code) => {
      started.exited = true
      started.ready = false
      this.event(`node ${started.id ?? port} exited (${code})`)
    })
    return started
  }

  /** Nodes that can take traffic (for the front door). */
  live(): string[] {
    return this.nodes.filter((n) => n.ready && !n.exited).map((n) => n.url)
  }

  event(text: string): void {
    this.events.push({ time: Date.now(), text })
    if (this.events.length > 200) this.events.splice(0, this.events.length - 200)
    this.#onEvent()
  }

  async stop(): Promise<void> {
    this.#stopping = true
    // A roll in progress may still start a node: stop until none is left running.
    while (this.nodes.some((n) => !n.exited)) {
      for (const n of this.nodes) if (!n.exited) n.proc.kill("SIGTERM")
      await Promise.all(this.nodes.map((n) => n.proc.exited))
      await this.#rolling?.catch(() => {})
    }
  }

  #stopping = false

  /** What a node's events tell: its id, readiness, the members it sees, its drain; the notable ones are shown. */
  #nodeEvent(node: DevNode, e: NodeEvent): void {
    const who = `node ${e.node}`
    switch (e.t) {
      case "listening":
        node.id = e.node
        node.ready = true
        return this.event(`${who} listening on ${node.url}`)
      case "member-up":
        node.seen.add(e.member)
        return this.event(`${who} sees node-up ${e.member}`)
      case "member-down":
        node.seen.delete(e.member)
        return this.event(`${who} sees node-down ${e.member}${e.why ? ` (${e.why})` : ""}`)
      case "member-status":
        return this.event(`${who} sees ${e.member} ${e.status}`)
      case "draining":
        return this.event(`${who} draining (${e.sessions} sessions)`)
      case "drained":
        node.drainSummary = `moved ${e.moved} of ${e.sessions} sessions in ${e.ms} ms`
        return this.event(`${who} ${node.drainSummary}`)
      case "session-adopted":
        return this.event(`${who} adopted ${e.session} (${e.via}, epoch ${e.epoch}${e.fromVersion !== e.toVersion ? `, state v${e.fromVersion}→v${e.toVersion}` : ""})`)
      case "failover":
        return this.event(`${who} took over ${e.sessions} sessions of ${e.from.join(", ")} in ${e.ms} ms`)
      case "session-created":
        return this.event(`${who} created ${e.game} session ${e.session}`)
      case "player-joined":
        return this.event(`${who}: ${e.player} joined ${e.session}`)
      case "session-collected":
        return this.event(`${who}: session collected ${e.session}`)
      case "session-idle-ended":
        return this.event(`${who}: session idle, ended ${e.session}`)
      case "stopped":
        return this.event(`${who}: node stopped`)
    }
  }

  /** A node's log, for the developer's eyes only: its warnings and errors, and output that is not a log line. */
  async #showLogs(node: DevNode, stream: ReadableStream<Uint8Array>): Promise<void> {
    const reader = stream.getReader()
    const decoder = new TextDecoder()
    let buf = ""
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      buf += decoder.decode(value, { stream: true })
      let nl: number
      while ((nl = buf.indexOf("\n")) >= 0) {
        this.#showLine(node, buf.slice(0, nl))
        buf = buf.slice(nl + 1)
      }
    }
  }

  #showLine(node: DevNode, line: string): void {
    let l: Record<string, unknown>
    try {
      l = JSON.parse(line)
    } catch {
      if (line.trim() && !NOISE.test(line)) this.event(`[${node.port}] ${line}`)
      return
    }
    if (l.level === "error" || l.level === "warn") this.event(`node ${String(l.node ?? node.id ?? node.port)} ${String(l.level).toUpperCase()}: ${l.msg}${l.error ? ` ${JSON.stringify(l.error)}` : ""}`)
  }
}
