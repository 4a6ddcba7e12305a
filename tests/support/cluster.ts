import { freePort, type NodeProcess, type StartOptions, startNodeProcess } from "./node-process.ts"
import { waitUntil } from "./wait.ts"

export const TEST_SECRET = "test-cluster-secret"

export interface ClusterMember {
  id: string
  url: string
  status: string
  version: string
  sessions: number
  up: boolean
  lastHeardMs: number
}

/**
 * The seed's cluster helpers, with real processes: start N nodes that know
 * each other's URLs, add one, stop one gracefully, kill one, and wait for
 * conditions (never for fixed times).
 */
export class TestCluster {
  readonly nodes: NodeProcess[] = []
  readonly urls: string[] = []
  #env: Record<string, string>

  private constructor(env: Record<string, string>) {
    this.#env = env
  }

  static async start(n: number, env: Record<string, string> = {}): Promise<TestCluster> {
    const c = new TestCluster(env)
    const ports = Array.from({ length: n }, () => freePort())
    c.urls.push(...ports.map((p) => `http://127.0.0.1:${p}`))
    await Promise.all(ports.map((port) => c.#spawn({ port })))
    await c.waitConverged()
    return c
  }

  /** Starts one more node that knows the others' URLs. */
  async add(opts: StartOptions = {}): Promise<NodeProcess> {
    const port = opts.port ?? freePort()
    this.urls.push(`http://127.0.0.1:${port}`)
    return this.#spawn({ ...opts, port })
  }

  async #spawn(opts: StartOptions): Promise<NodeProcess> {
    const node = await startNodeProcess({
      ...opts,
      env: {
        BATON_CLUSTER_SECRET: TEST_SECRET,
        BATON_PEERS: this.urls.join(","),
        BATON_HEARTBEAT_MS: "200",
        BATON_FAILURE_MS: "1500",
        ...this.#env,
        ...opts.env,
      },
    })
    this.nodes.push(node)
    return node
  }

  get live(): NodeProcess[] {
    return this.nodes.filter((n) => n.proc.exitCode === null && !n.proc.killed)
  }

  async members(node: NodeProcess): Promise<ClusterMember[]> {
    const body = (await (await fetch(`${node.url}/cluster`)).json()) as { members: ClusterMember[] }
    return body.members
  }

  async idOf(node: NodeProcess): Promise<string> {
    return ((await (await fetch(`${node.url}/cluster`)).json()) as { node: string }).node
  }

  /** Every live node sees every other live node up and ready. */
  async waitConverged(timeoutMs = 15_000): Promise<void> {
    await waitUntil(
      async () => {
        const live = this.live
        const ids = await Promise.all(live.map((n) => this.idOf(n)))
        for (const n of live) {
          const up = (await this.members(n)).filter((m) => m.up && m.status === "ready").map((m) => m.id)
          if (!ids.every((id) => up.includes(id))) return false
        }
        return true
      },
      "every node sees every other node ready",
      { timeoutMs },
    )
  }

  stopAll(): Promise<unknown> {
    return Promise.all(this.live.map((n) => n.kill()))
  }
}
