import { resolve } from "node:path"
import type { Subprocess } from "bun"
import type { EventOf, NodeEvent } from "../../framework/node/index.ts"
import { NodeEventLog } from "./node-events.ts"

const ROOT = resolve(import.meta.dir, "../..")
const CLI = resolve(ROOT, "framework/cli/main.ts")
/** The app integration tests run by default: the example counter plus a game that uses every feature. */
export const TEST_APP = resolve(ROOT, "tests/fixtures/app")

export interface NodeProcess {
  url: string
  port: number
  /** The node's id (from its "listening" event). */
  id: string
  proc: Subprocess<"ignore", "pipe", "pipe">
  /** Every event the node sent so far (Bun IPC): what tests learn what it did from. */
  events: NodeEvent[]
  /** The events of one type so far, optionally only those `where` accepts. */
  eventsOf<T extends NodeEvent["t"]>(t: T, where?: (e: EventOf<T>) => boolean): EventOf<T>[]
  /** The first event of type `t` that `where` accepts, waiting for it; fails if the node exits first. */
  waitForEvent<T extends NodeEvent["t"]>(t: T, where?: (e: EventOf<T>) => boolean, timeoutMs?: number): Promise<EventOf<T>>
  /** Every stdout log line so far, parsed (JSON lines): for tests of what the node tells people. */
  logs: Record<string, unknown>[]
  /** Raw stderr, for failures. */
  stderr(): string
  /** SIGTERM and wait for the exit code (and the last events). */
  stop(): Promise<number>
  /** SIGKILL (a crash) and wait. */
  kill(): Promise<number>
}

export interface StartOptions {
  app?: string
  port?: number
  env?: Record<string, string>
  /** The node stops by itself after this long, whatever happens to the test. */
  lifetimeMs?: number
  /** Run the node inside this network namespace (`ip netns exec <netns> bun …`; tests/support/netns.ts). */
  netns?: string
  /** The address to listen on (HOST), and the node's URL's host. Default 127.0.0.1. */
  host?: string
}

const running = new Set<NodeProcess>()

/** Starts `baton start` as a real Bun process on 127.0.0.1 (or `host`, in `netns`) and waits until it listens. */
export async function startNodeProcess(opts: StartOptions = {}): Promise<NodeProcess> {
  const inNetns = opts.netns ? ["ip", "netns", "exec", opts.netns, process.execPath] : ["bun"]
  const events = new NodeEventLog()
  const proc = Bun.spawn([...inNetns, ...(process.env.BATON_PROFILE_DIR ? ["--cpu-prof-md", `--cpu-prof-dir=${process.env.BATON_PROFILE_DIR}`] : []), CLI, "start", opts.app ?? TEST_APP], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: String(opts.port ?? 0),
      HOST: opts.host ?? "127.0.0.1",
      BATON_LOG: "json",
      BATON_MAX_LIFETIME_MS: String(opts.lifetimeMs ?? 120_000),
      // Most tests look at every session and member and create sessions by the hundred: open the
      // operators' views and lift the creation limit (tests of those protections set them back).
      BATON_OPERATOR_VIEWS: "open",
      BATON_CREATES_PER_MINUTE: "0",
      ...opts.env,
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    ...events.spawnOptions,
  })
  const logs: Record<string, unknown>[] = []
  let err = ""
  void (async () => {
    let buf = ""
    const reader = proc.stdout.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      buf += new TextDecoder().decode(value)
      let nl: number
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        try {
          logs.push(JSON.parse(line))
        } catch {
          logs.push({ msg: line })
        }
      }
    }
  })()
  void (async () => {
    const reader = proc.stderr.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      err += new TextDecoder().decode(value)
    }
  })()
  // A condition, not a pause: 45 s only matter on a machine so loaded that starting Bun takes that long
  // (15 s was not enough on a shared 2-core machine under a load of 28).
  const listening = await events.waitFor("listening", undefined, 45_000).catch(async (error) => {
    // Timed out with the process still up: it would otherwise run on to its lifetime.
    if (proc.exitCode === null) proc.kill("SIGKILL")
    const code = await proc.exited
    throw new Error(`the node did not listen (${(error as Error).message}; exit ${code}): ${err}`)
  })
  const url = listening.url.replace("localhost", "127.0.0.1")
  // The exit can be seen before the last events are read from the channel (they matter: drained, stopped).
  const exit = async () => {
    const code = await proc.exited
    await Promise.race([events.closed, Bun.sleep(2_000)])
    running.delete(node)
    return code
  }
  const node: NodeProcess = {
    url,
    port: Number(new URL(url).port),
    id: listening.node,
    proc,
    events: events.events,
    eventsOf: (t, where) => events.of(t, where),
    waitForEvent: (t, where, timeoutMs) => events.waitFor(t, where, timeoutMs),
    logs,
    stderr: () => err,
    stop() {
      proc.kill("SIGTERM")
      return exit()
    },
    kill() {
      proc.kill("SIGKILL")
      return exit()
    },
  }
  running.add(node)
  return node
}

/** Kills every node a test file started (call from afterAll). */
export async function stopAllNodes(): Promise<void> {
  await Promise.all([...running].map((n) => n.kill()))
}

/** A port that was free a moment ago (for a node that must come back on the same port). */
export function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() })
  const port = s.port as number
  s.stop(true)
  return port
}

/**
 * A base port whose next `n` ports are free too (the dev cluster takes consecutive ports). Below
 * Linux's ephemeral range (32768 up): servers on port 0 (`freePort`, other tests' nodes) and outgoing
 * connections never take these, so the run stays free after the check, barring another freeRun.
 */
export function freeRun(n: number): number {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (12_000 - n))
    const held: ReturnType<typeof Bun.serve>[] = []
    try {
      for (let i = 0; i <= n; i++) held.push(Bun.serve({ port: base + i, hostname: "127.0.0.1", fetch: () => new Response() }))
      return base
    } catch {
      // taken: try another run
    } finally {
      for (const s of held) s.stop(true)
    }
  }
  throw new Error("no free run of ports")
}
