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
export interface RollStep {
  stopped: string
  started: string
  exitCode: number
  moved: number
  failed: number
  drainMs: number
  pauseP99: number
}

/** Waits until each of `nodes` sees every one of them up and ready; the error shows every node's view. */
export async function waitViewsConverged(
  nodes: { url: string; id(): Promise<string>; members(): Promise<{ id: string; up: boolean; status: string }[]> }[],
  timeoutMs: number,
): Promise<void> {
  let views = ""
  await waitUntil(
    async () => {
      const ids = await Promise.all(nodes.map((n) => n.id()))
      views = ""
      let ok = true
      for (const n of nodes) {
        const members = await n.members()
        views += ` ${n.url}: ${members.map((m) => `${m.id}:${m.up ? m.status : "down"}`).join(",")};`
        const up = members.filter((m) => m.up && m.status === "ready").map((m) => m.id)
        if (!ids.every((id) => up.includes(id))) ok = false
      }
      return ok
    },
    "every node sees every other node ready",
    { timeoutMs, everyMs: 100 },
  ).catch((e) => {
    throw new Error(`${(e as Error).message}; views:${views}`)
  })
}

export class TestCluster {
  readonly nodes: NodeProcess[] = []
  readonly urls: string[] = []
  #env: Record<string, string>
  #app: string | undefined

  private constructor(env: Record<string, string>, app?: string) {
    this.#env = env
    this.#app = app
  }

  static async start(n: number, env: Record<string, string> = {}, app?: string): Promise<TestCluster> {
    const c = new TestCluster(env, app)
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
      app: this.#app,
      ...opts,
      env: {
        BATON_CLUSTER_SECRET: TEST_SECRET,
        BATON_PEERS: this.urls.join(","),
        BATON_HEARTBEAT_MS: "200",
        BATON_FAILURE_MS: "3000",
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
    await waitViewsConverged(
      this.live.map((n) => ({ url: n.url, id: () => this.idOf(n), members: () => this.members(n) })),
      timeoutMs,
    )
  }

  /**
   * A rolling restart, one node at a time: start the successor with `env`
   * (a new app version), wait until every node sees it, SIGTERM the old one
   * and wait for it to exit. Returns what each drain reported.
   */
  async roll(env: Record<string, string>, progress: (line: string) => void = () => {}): Promise<RollStep[]> {
    const steps: RollStep[] = []
    const old = [...this.live]
    for (const [i, prev] of old.entries()) {
      const next = await this.add({ env })
      await this.waitConverged()
      const code = await prev.stop()
      const [drained] = prev.eventsOf("drained")
      const step: RollStep = {
        stopped: prev.id,
        started: next.url,
        exitCode: code,
        moved: drained?.moved ?? 0,
        failed: drained?.failed ?? 0,
        drainMs: drained?.ms ?? Number.NaN,
        pauseP99: drained?.pauseP99 ?? 0,
      }
      steps.push(step)
      progress(`roll step ${i + 1}/${old.length}: ${JSON.stringify(step)}`)
    }
    return steps
  }

  stopAll(): Promise<unknown> {
    // SIGTERM when profiling: Bun writes a CPU profile only at a clean exit.
    return Promise.all(this.live.map((n) => (process.env.BATON_PROFILE_DIR ? n.stop() : n.kill())))
  }
}
