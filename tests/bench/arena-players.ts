/**
 * The arena's players: seats in counter sessions, each in the closed loop of
 * counter-arena (send inc, wait until its own count shows it, send the next).
 * They run inside the arena's process, or split over several load-generator
 * processes (`runArena({ loadgenProcs })`): then this file is each child's
 * entry, talking to the arena over Bun's IPC channel: it takes its seats and
 * options, joins, says "joined", starts at "go" and sends its figures.
 */
import { type GameSession, join } from "batonjs/client"
import type counter from "../../app/games/counter.ts"

/** One player: which node it joins, which session, as whom. */
export interface Seat {
  url: string
  session: string
  player: string
}

export interface LoopOptions {
  warmup: number
  seconds: number
  /** Paced instead of closed loop: each player starts an action every `intervalMs` (or as soon as its previous one is seen, if that took longer). */
  intervalMs?: number
  /** Measure past `seconds` until this many actions are counted. */
  minActions?: number
  /** Players stay on the node they joined instead of the SDK's default move to their session's node. */
  relayed?: boolean
}

export interface LoopResult {
  count: number
  latencies: number[]
  /** Error frames the nodes sent, by code. The SDK handles `rate_limited` itself (it resends 100–200 ms later), so without this count a refusal shows only as latency. */
  errorFrames: Record<string, number>
  /** Players whose session failed (an action rejected, the connection closed for good): their loop stopped. */
  failed: number
  /** CPU this process used while measuring, ms. */
  cpuMs: number
  /** The measured window, s. */
  seconds: number
}

type Player = GameSession<typeof counter>

/** A WebSocket that counts the error frames it receives, by code. */
function countingWebSocket(errors: Map<string, number>): typeof WebSocket {
  return class CountingWebSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols)
      this.addEventListener("message", (ev) => {
        const d = ev.data
        // A frame starts with {"t":"<type>"; only "error" has an "e" at index 6, so one check per frame.
        if (typeof d !== "string" || d.charCodeAt(6) !== 101) return
        const m = JSON.parse(d) as { t?: unknown; code?: unknown }
        if (m.t === "error") errors.set(String(m.code), (errors.get(String(m.code)) ?? 0) + 1)
      })
    }
  }
}

export interface Players {
  players: Player[]
  errors: Map<string, number>
}

export async function joinSeats(seats: Seat[], relayed = false): Promise<Players> {
  const errors = new Map<string, number>()
  const WebSocket = countingWebSocket(errors)
  const players: Player[] = []
  for (const s of seats) players.push(await join<typeof counter>({ ...s, direct: !relayed, WebSocket }))
  return { players, errors }
}

/**
 * Runs every player's loop for `warmup + seconds`; `onMeasure` is called
 * when the measured window starts (the arena samples the nodes' CPU there).
 */
export async function runLoops({ players, errors }: Players, opts: LoopOptions, onMeasure: () => unknown = () => {}): Promise<LoopResult> {
  let measuring = false
  let count = 0
  let failed = 0
  const latencies: number[] = []
  const deadline = performance.now() + (opts.warmup + opts.seconds) * 1000
  const loop = async (player: Player) => {
    let mine = player.state.players[player.player]?.count ?? 0
    // Spread the players' first sends over one interval, so the paced load is even.
    let nextAt = performance.now() + Math.random() * (opts.intervalMs ?? 0)
    while (performance.now() < deadline || count < (opts.minActions ?? 0)) {
      if (opts.intervalMs) {
        // A schedule, not a wait for a condition: the next send is due at a fixed time.
        if (nextAt > performance.now()) await Bun.sleep(nextAt - performance.now())
        nextAt += opts.intervalMs
      }
      const t0 = performance.now()
      let off = () => {}
      const seen = new Promise<void>((resolve, reject) => {
        off = player.subscribe((state) => {
          if ((state.players[player.player]?.count ?? 0) > mine) resolve()
        })
        player.act("inc", { by: 1 }).catch(reject)
      })
      try {
        await seen
      } catch {
        failed++
        return
      } finally {
        off()
      }
      mine++
      if (measuring) {
        latencies.push(performance.now() - t0)
        count++
      }
    }
  }
  const start = { t: 0, cpu: process.cpuUsage() }
  const warm = setTimeout(() => {
    measuring = true
    start.t = performance.now()
    start.cpu = process.cpuUsage()
    errors.clear()
    onMeasure()
  }, opts.warmup * 1000)
  await Promise.all(players.map(loop))
  clearTimeout(warm)
  const cpu = process.cpuUsage(start.cpu)
  return {
    count,
    latencies,
    errorFrames: Object.fromEntries(errors),
    failed,
    cpuMs: (cpu.user + cpu.system) / 1000,
    seconds: start.t ? (performance.now() - start.t) / 1000 : 0,
  }
}

if (import.meta.main && process.send) {
  const send = process.send.bind(process)
  // An arena that died leaves no load generator behind.
  process.on("disconnect", () => process.exit(1))
  const inbox: unknown[] = []
  let wake = () => {}
  process.on("message", (m) => {
    inbox.push(m)
    wake()
  })
  const next = async () => {
    while (!inbox.length) await new Promise<void>((r) => (wake = r))
    return inbox.shift()
  }
  const { seats, opts } = (await next()) as { seats: Seat[]; opts: LoopOptions }
  const players = await joinSeats(seats, opts.relayed)
  send("joined")
  await next() // "go"
  send(await runLoops(players, opts))
  for (const p of players.players) p.close()
}
