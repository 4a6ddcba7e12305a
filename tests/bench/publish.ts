/**
 * Whether Bun's native publish (`ws.subscribe(topic)`, `server.publish`)
 * makes one frame to every player of a session cheaper than `ws.send` in a
 * loop, as a node's flush sends it: one frame per player per event-loop
 * turn. The server runs on core 0, its subscribers in a child process on
 * core 1; `send` and `publish` rounds alternate, each in a fresh server.
 * usPerRecipient is the server process's CPU (user + system) per frame
 * delivered; the subscribers count what arrives, so a mode that dropped
 * frames would show.
 *
 *   bun tests/bench/publish.ts [subscribers] [frames] [pairs]   (default 100 2000 3)
 */
import { median } from "./stats.ts"

const [role, ...args] = process.argv.slice(2)

if (role === "--subscribers") {
  // The child: N sockets that count frames, until the parent asks for the count.
  const [port, n] = args.map(Number) as [number, number]
  let got = 0
  for (let i = 0; i < n; i++) new WebSocket(`ws://127.0.0.1:${port}`).onmessage = () => void got++
  process.on("message", () => process.send?.({ got }))
} else {
  const subscribers = Number(role ?? 100)
  const frames = Number(args[0] ?? 2000)
  const pairs = Number(args[1] ?? 3)
  const results: Record<"send" | "publish", number[]> = { send: [], publish: [] }
  for (let i = 0; i < pairs; i++)
    for (const mode of ["send", "publish"] as const) {
      const r = await round(mode, subscribers, frames)
      results[mode].push(r.usPerRecipient)
      console.log(JSON.stringify({ mode, subscribers, frames, ...r }))
    }
  const send = median(results.send)
  const publish = median(results.publish)
  console.log(JSON.stringify({ subscribers, frames, pairs, sendUsPerRecipient: +send.toFixed(2), publishUsPerRecipient: +publish.toFixed(2), publishOverSend: +(publish / send).toFixed(3) }))
}

async function round(mode: "send" | "publish", n: number, frames: number): Promise<{ usPerRecipient: number; delivered: number }> {
  const sockets: Bun.ServerWebSocket<unknown>[] = []
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: (req, s) => (s.upgrade(req) ? undefined : new Response("upgrade", { status: 400 })),
    websocket: {
      open(ws) {
        sockets.push(ws)
        ws.subscribe("session")
      },
      message() {},
    },
  })
  let counted: ((got: number) => void) | undefined
  const child = Bun.spawn(["taskset", "-c", "1", process.execPath, import.meta.path, "--subscribers", String(server.port), String(n)], {
    ipc: (m: { got: number }) => counted?.(m.got),
    stdout: "inherit",
    stderr: "inherit",
  })
  if (Bun.spawnSync(["taskset", "-pc", "0", String(process.pid)]).exitCode !== 0) console.error("taskset failed: the server is not pinned")
  while (sockets.length < n) await Bun.sleep(10)
  // A counter-arena delta, a little different each time (as revisions are).
  const base = JSON.stringify({ t: "u", rev: 1, d: [{ p: ["players", "p17", "count"], v: 1234 }, { p: ["total"], v: 99999 }] }).slice(0, -1)
  const started = process.cpuUsage()
  for (let i = 0; i < frames; i++) {
    const frame = `${base},"n":${i}}`
    if (mode === "send") for (const ws of sockets) ws.send(frame)
    else server.publish("session", frame)
    // One frame per player per turn, as a node flushes: publish could otherwise coalesce many into one write.
    await new Promise((r) => setTimeout(r, 0))
  }
  const cpu = process.cpuUsage(started)
  // Counted once the count stops growing: everything sent has arrived (or never will).
  let last = -1
  const delivered = await new Promise<number>((resolve) => {
    const poll = setInterval(() => child.send("count"), 100)
    counted = (got) => {
      if (got === last || got === n * frames) {
        clearInterval(poll)
        resolve(got)
      }
      last = got
    }
  })
  child.kill()
  server.stop(true)
  return { usPerRecipient: +((cpu.user + cpu.system) / (n * frames)).toFixed(3), delivered }
}
