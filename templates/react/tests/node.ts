/** Starts this app as a real node process (`baton start .`) on a free port, for the integration tests. */
import { dirname, join, resolve } from "node:path"
import type { NodeEvent } from "batonjs/server"

const APP = resolve(import.meta.dir, "..")
/** The installed framework's CLI (node_modules/batonjs/cli/main.ts). */
const CLI = join(dirname(Bun.resolveSync("batonjs", APP)), "cli/main.ts")

export interface RunningNode {
  url: string
  /** What the node did, as typed events (it sends every one to the process that started it, over Bun IPC). */
  events: NodeEvent[]
  /** SIGTERM, as an orchestrator stops it; resolves with the exit code once its last events are in. */
  stop(): Promise<number>
}

export async function startNode(env: Record<string, string> = {}): Promise<RunningNode> {
  const events: NodeEvent[] = []
  let listening: (url: string) => void = () => {}
  let channelClosed: () => void = () => {}
  const closed = new Promise<void>((resolve) => (channelClosed = resolve))
  const proc = Bun.spawn(["bun", CLI, "start", APP], {
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", BATON_LOG: "json", BATON_MAX_LIFETIME_MS: "60000", ...env },
    stdout: "ignore",
    stderr: "pipe",
    ipc(message) {
      const event = message as NodeEvent
      events.push(event)
      if (event.t === "listening") listening(event.url.replace("localhost", "127.0.0.1"))
    },
    onDisconnect: () => channelClosed(),
  })
  let stderr = ""
  void (async () => {
    const reader = proc.stderr.getReader()
    for (let r = await reader.read(); !r.done; r = await reader.read()) stderr += new TextDecoder().decode(r.value)
  })()
  let timer: ReturnType<typeof setTimeout> | undefined
  const url = await Promise.race([
    new Promise<string>((found) => (listening = found)),
    proc.exited.then((code) => Promise.reject(new Error(`the node exited (${code}) before listening: ${stderr}`))),
    new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`the node did not start in 15 s: ${stderr}`)), 15_000)
    }),
  ]).finally(() => clearTimeout(timer))
  return {
    url,
    events,
    async stop() {
      proc.kill("SIGTERM")
      const code = await proc.exited
      // The exit can be seen before the last events are read from the channel.
      await Promise.race([closed, Bun.sleep(2_000)])
      return code
    },
  }
}

/** Polls until `check` holds (never a fixed sleep). */
export async function until(check: () => boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await Bun.sleep(10)
  }
}
