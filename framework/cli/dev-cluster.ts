import { resolve } from "node:path"
import type { Subprocess } from "bun"

/** One node process of the dev cluster, with what its logs told us. */
export interface DevNode {
  index: number
  port: number
  url: string
  proc: Subprocess<"ignore", "pipe", "pipe">
  id?: string
  ready: boolean
  exited: boolean
}

export interface DevEvent {
  time: number
  text: string
}

const CLI = resolve(import.meta.dir, "main.ts")

/**
 * Runs N real node processes on consecutive ports that know each other
 * (BATON_PEERS), in dev mode (no secret needed). Watches their JSON logs for
 * the events worth showing a developer.
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

  get peers(): string {
    return Array.from({ length: this.count }, (_, i) => `http://127.0.0.1:${this.basePort + 1 + i}`).join(",")
  }

  start(): void {
    for (let i = 0; i < this.count; i++) this.spawn(i, this.basePort + 1 + i)
  }

  spawn(index: number, port: number, extraEnv: Record<string, string> = {}): DevNode {
    const proc = Bun.spawn(["bun", CLI, "start", this.appDir], {
      env: {
        ...process.env,
        PORT: String(port),
        HOST: "127.0.0.1",
        BATON_DEV: "1",
        BATON_LOG: "json",
        BATON_PEERS: this.peers,
        ...this.env,
        ...extraEnv,
      },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    })
    const node: DevNode = { index, port, url: `http://127.0.0.1:${port}`, proc, ready: false, exited: false }
    this.nodes.push(node)
    void this.#readLogs(node, proc.stdout)
    void this.#readLogs(node, proc.stderr)
    void proc.exited.then((code) => {
      node.exited = true
      node.ready = false
      this.event(`node ${node.id ?? port} exited (${code})`)
    })
    return node
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
    for (const n of this.nodes) if (!n.exited) n.proc.kill("SIGTERM")
    await Promise.all(this.nodes.map((n) => n.proc.exited))
  }

  async #readLogs(node: DevNode, stream: ReadableStream<Uint8Array>): Promise<void> {
    const reader = stream.getReader()
    const decoder = new TextDecoder()
    let buf = ""
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      buf += decoder.decode(value, { stream: true })
      let nl: number
      while ((nl = buf.indexOf("\n")) >= 0) {
        this.#line(node, buf.slice(0, nl))
        buf = buf.slice(nl + 1)
      }
    }
  }

  #line(node: DevNode, line: string): void {
    let l: Record<string, unknown>
    try {
      l = JSON.parse(line)
    } catch {
      if (line.trim() && !line.includes("TimeoutNegativeWarning") && !line.includes("Timeout duration") && !line.includes("--trace-warnings"))
        this.event(`[${node.port}] ${line}`)
      return
    }
    const who = `node ${String(l.node ?? node.port)}`
    switch (l.msg) {
      case "node listening":
        node.id = String(l.node)
        node.ready = true
        return this.event(`${who} listening on ${node.url}`)
      case "node-up":
      case "node-down":
        return this.event(`${who} sees ${l.msg} ${l.member}${l.why ? ` (${l.why})` : ""}`)
      case "member status":
        return this.event(`${who} sees ${l.member} ${l.status}`)
      case "session created":
        return this.event(`${who} created ${l.game} session ${l.session}`)
      case "player joined":
        return this.event(`${who}: ${l.player} joined ${l.session}`)
      case "node stopped":
      case "session collected":
      case "session idle, ended":
        return this.event(`${who}: ${l.msg}${l.session ? ` ${l.session}` : ""}`)
      default:
        if (l.level === "error" || l.level === "warn") this.event(`${who} ${String(l.level).toUpperCase()}: ${l.msg}${l.error ? ` ${JSON.stringify(l.error)}` : ""}`)
    }
  }
}
