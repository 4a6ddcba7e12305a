import type { HTMLBundle } from "bun"
import { DevCluster } from "./dev-cluster.ts"
import { watchApp } from "./dev-edits.ts"
import { devRows, type MemberRow } from "./dev-table.ts"
import { type FrontDoor, startFrontDoor } from "./front-door.ts"
import { loadApp } from "./load-app.ts"

export interface DevOptions {
  appDir: string
  port: number
  nodes: number
  /** The app's pages: the front door serves them, hot reloaded (see front-door.ts). */
  pages?: Record<string, HTMLBundle>
}

/**
 * `baton dev`: a local cluster of real node processes behind a front door,
 * with a live status table. Ctrl-C stops everything cleanly.
 */
export async function runDev(opts: DevOptions): Promise<void> {
  const tty = process.stdout.isTTY === true
  let members: MemberRow[] = []
  let shownEvents = 0
  let door: FrontDoor | undefined
  const cluster = new DevCluster(opts.appDir, opts.port, opts.nodes, {}, () => {
    if (!tty) flushEvents()
  })

  const flushEvents = () => {
    for (const e of cluster.events.slice(shownEvents)) console.log(`${clock(e.time)}  ${e.text}`)
    shownEvents = cluster.events.length
  }

  const draw = () => {
    if (!tty) return
    const lines = [
      `Baton dev cluster: open ${door?.url ?? "(starting)"}   (${opts.nodes} nodes, ${cluster.version}; edits to the app roll it; Ctrl-C stops)`,
      `operators: ${door?.url ?? ""}/dashboard   playground (every game, page or none): ${door?.url ?? ""}/playground`,
      "",
      pad(["node", "url", "status", "version", "sessions"], [12, 24, 10, 10, 8]),
      ...members.map((m) => pad([m.id, m.url, m.up ? m.status : "down", m.version, String(m.sessions)], [12, 24, 10, 10, 8])),
      "",
      "recent:",
      ...cluster.events.slice(-10).map((e) => `  ${clock(e.time)}  ${e.text}`),
    ]
    process.stdout.write(`\x1b[H\x1b[2J${lines.join("\n")}\n`)
  }

  cluster.start()
  // `baton roll` asks for a roll here and reads its progress lines as they happen.
  const rollOverHttp = (req: Request): Response | undefined => {
    if (new URL(req.url).pathname !== "/_baton/roll" || req.method !== "POST") return undefined
    const stream = new ReadableStream<string>({
      start(ctl) {
        cluster
          .roll((line) => {
            cluster.event(line)
            ctl.enqueue(`${line}\n`)
          })
          .finally(() => ctl.close())
      },
    })
    return new Response(stream, { headers: { "content-type": "text/plain; charset=utf-8" } })
  }
  door = startFrontDoor(opts.port, "127.0.0.1", () => cluster.live(), rollOverHttp, opts.pages ?? {})

  // An edit to a game rolls the cluster onto it (the games in progress continue under the new code); an edit to a page reloads it.
  let reloads = 0
  const watcher = watchApp({
    appDir: opts.appDir,
    say: (line) => cluster.event(line),
    async roll(entry) {
      // The entry's page map may have changed: the front door serves the pages it names now.
      if (entry) await loadApp(opts.appDir, ++reloads).then((app) => door?.setPages(app.pages ?? {}), () => {})
      await cluster.roll()
    },
  })
  if (!tty) console.log(`Baton dev cluster: open ${door.url} (${opts.nodes} nodes on ports ${opts.port + 1}-${opts.port + opts.nodes}; Ctrl-C stops)`)
  if (!tty) console.log(`operators: ${door.url}/dashboard, playground (every game, page or none): ${door.url}/playground`)

  let lastSummary = ""
  const poll = setInterval(async () => {
    const first = cluster.live()[0]
    if (!first) return draw()
    try {
      const body = (await (await fetch(`${first}/cluster`, { signal: AbortSignal.timeout(800) })).json()) as { members: MemberRow[] }
      members = devRows(body.members)
    } catch {
      return
    }
    const summary = members.map((m) => `${m.id} ${m.up ? m.status : "down"} ${m.sessions}`).join(" | ")
    if (!tty && summary !== lastSummary) console.log(`status: ${summary}`)
    lastSummary = summary
    draw()
  }, 1000)

  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    clearInterval(poll)
    watcher.close()
    if (!tty) flushEvents()
    console.log("\nstopping the dev cluster…")
    door?.stop()
    await cluster.stop()
    console.log("stopped.")
    process.exit(0)
  }
  process.on("SIGINT", stop)
  process.on("SIGTERM", stop)
}

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => c.padEnd(widths[i] ?? 10)).join(" ")
}

function clock(t: number): string {
  return new Date(t).toTimeString().slice(0, 8)
}
