/** Starts this app as a real node process (`baton start .`) on a free port, for the integration tests. */
import { dirname, join, resolve } from "node:path"

const APP = resolve(import.meta.dir, "..")
/** The installed framework's CLI (node_modules/baton/cli/main.ts). */
const CLI = join(dirname(Bun.resolveSync("baton", APP)), "cli/main.ts")

export interface RunningNode {
  url: string
  logs: Record<string, unknown>[]
  /** SIGTERM, as an orchestrator stops it; resolves with the exit code. */
  stop(): Promise<number>
}

export async function startNode(env: Record<string, string> = {}): Promise<RunningNode> {
  const proc = Bun.spawn(["bun", CLI, "start", APP], {
    env: { ...process.env, PORT: "0", HOST: "127.0.0.1", BATON_LOG: "json", BATON_MAX_LIFETIME_MS: "60000", ...env },
    stdout: "pipe",
    stderr: "pipe",
  })
  const logs: Record<string, unknown>[] = []
  let stderr = ""
  void (async () => {
    const reader = proc.stderr.getReader()
    for (let r = await reader.read(); !r.done; r = await reader.read()) stderr += new TextDecoder().decode(r.value)
  })()
  const listening = new Promise<string>((found, fail) => {
    void (async () => {
      let buf = ""
      const reader = proc.stdout.getReader()
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        buf += new TextDecoder().decode(r.value)
        for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
          const line = buf.slice(0, nl)
          buf = buf.slice(nl + 1)
          try {
            const l = JSON.parse(line) as Record<string, unknown>
            logs.push(l)
            if (l.msg === "node listening") found(String(l.url).replace("localhost", "127.0.0.1"))
          } catch {
            logs.push({ msg: line })
          }
        }
      }
      fail(new Error(`the node exited (${await proc.exited}) before listening: ${stderr}`))
    })()
  })
  let timer: ReturnType<typeof setTimeout> | undefined
  const tooLong = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`the node did not start in 15 s: ${stderr}`)), 15_000)
  })
  const url = await Promise.race([listening, tooLong]).finally(() => clearTimeout(timer))
  return {
    url,
    logs,
    stop() {
      proc.kill("SIGTERM")
      return proc.exited
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
