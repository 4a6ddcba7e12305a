/**
 * The half of the client CPU benchmark (client-cpu.ts) that runs inside the
 * measured runtime (Node, Chromium, Bun), bundled with the SDK: real
 * `GameSession`s fed a counter-arena session's frames through an in-process
 * stand-in for the WebSocket. The world is simulated, the SDK is not: what is
 * timed is `onmessage` and `act` as a browser's socket would call them. It
 * uses no API of one runtime; the caller passes its clock.
 */
import { GameSession } from "../../framework/client/index.ts"
import { type PatchOp, diff } from "../../framework/protocol/index.ts"

/** One view size: `players` in the session, `perFrame` of them acting between two of the node's flushes. */
export interface ReplayCase {
  players: number
  perFrame: number
}

export interface ReplayOptions {
  cases: ReplayCase[]
  /** Sessions fed each frame in turn (a load generator holds many; a phone one). */
  sessions: number
  runs: number
  /** Length of one timed run, ms of the clock. */
  runMs: number
  /** Actions per timed batch of `act` calls (acknowledged, untimed, after each batch). */
  actBatch: number
}

export interface ReplayFigures extends ReplayCase {
  /** Ops in one "u" frame (the total, plus one count per acting player). */
  ops: number
  /** Bytes of one frame. */
  frameBytes: number
  /** µs to receive one frame, per run. */
  updateUs: number[]
  /** µs of one `act` call (sending it: frame, pending entry, promise), per run. */
  actUs: number[]
  /** µs of one action's round trip: `act`, then its ack arriving alone in a frame, and the promise resolving, per run. */
  roundTripUs: number[]
}

/** A microsecond clock: CPU time where the runtime has it, else wall time. */
export type Clock = () => number

const URL_ = "http://client-cpu.invalid"

/** Stands in for a browser's WebSocket: records what the SDK sends, delivers what the "node" says. */
class ReplaySocket {
  static made: ReplaySocket[] = []
  readyState = 0
  sent = 0
  onopen: ((ev: unknown) => void) | null = null
  onmessage: ((ev: { data: string }) => void) | null = null
  onclose: ((ev: { code: number; reason: string }) => void) | null = null
  onerror: ((ev: unknown) => void) | null = null
  constructor(readonly url: string) {
    ReplaySocket.made.push(this)
  }
  send(_data: string): void {
    this.sent++
  }
  close(): void {
    this.readyState = 3
  }
  open(): void {
    this.readyState = 1
    this.onopen?.({})
  }
  deliver(data: string): void {
    this.onmessage?.({ data })
  }
}

type CounterState = { total: number; players: Record<string, { count: number }> }

/** mulberry32: the same stream in every runtime. */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * A session's frames as the node makes them, from the first view on: the
 * view starts empty and the players arrive as they first act (`perFrame`
 * per flush), as they do in a running arena (a client's map is then built key
 * by key, which engines store differently from a map JSON.parse makes); then
 * a loop of `frames` flushes in each of which `perFrame` distinct players'
 * `inc` landed. Each frame is the node's diff of the state before and after:
 * the total first, then the counts in the players map's order.
 */
export function counterStream(c: ReplayCase, frames = 256): { view: CounterState; arrivals: string[]; frames: string[]; ops: number } {
  const r = seeded(c.players * 7919 + c.perFrame)
  const ids = Array.from({ length: c.players }, (_, i) => `p${i}`)
  const shuffle = (n: number) => {
    const out = [...ids]
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(r() * (out.length - i))
      ;[out[i], out[j]] = [out[j] as string, out[i] as string]
    }
    return out
  }
  const view: CounterState = { total: 0, players: {} }
  let state = view
  let rev = 1
  const flush = (acting: string[]) => {
    const next: CounterState = { total: state.total + acting.length, players: { ...state.players } }
    for (const id of acting) next.players[id] = { count: (state.players[id]?.count ?? 0) + 1 }
    const ops = diff(state, next)
    state = next
    return { ops: ops.length, frame: `{"t":"u","rev":${++rev},"d":${JSON.stringify(ops)}}` }
  }
  const arrivals: string[] = []
  const order = shuffle(ids.length)
  for (let i = 0; i < order.length; i += c.perFrame) arrivals.push(flush(order.slice(i, i + c.perFrame)).frame)
  const out: string[] = []
  let ops = 0
  for (let f = 0; f < frames; f++) {
    const made = flush(shuffle(c.perFrame).slice(0, c.perFrame))
    out.push(made.frame)
    ops = made.ops
  }
  return { view, arrivals, frames: out, ops }
}

async function seat(player: string, view: CounterState, arrivals: string[]): Promise<{ session: GameSession; socket: ReplaySocket }> {
  const session = new GameSession({ url: URL_, session: "s", player, WebSocket: ReplaySocket as unknown as typeof WebSocket })
  ReplaySocket.made.length = 0
  const started = session.start()
  while (ReplaySocket.made.length === 0) await Promise.resolve()
  const socket = ReplaySocket.made[0] as ReplaySocket
  socket.open()
  socket.deliver(JSON.stringify({ t: "joined", session: "s", game: "counter", player, seat: 0, view, rev: 1, seq: 0, status: "open" }))
  await started
  for (const frame of arrivals) socket.deliver(frame)
  // What a UI does with each update: read its own part.
  let mine = 0
  session.subscribe((state) => {
    mine = (state as CounterState).players[player]?.count ?? mine
  })
  return { session, socket }
}

/** How many iterations of `step` fill about `ms`, from a short trial. */
function calibrate(clock: Clock, ms: number, step: (i: number) => void): number {
  let n = 16
  for (;;) {
    const t0 = clock()
    for (let i = 0; i < n; i++) step(i)
    const took = clock() - t0
    if (took > 20_000 || n > 1 << 24) return Math.max(16, Math.ceil((n * ms * 1000) / Math.max(took, 1)))
    n *= 4
  }
}

const noop = () => {}

export async function replay(opts: ReplayOptions, clock: Clock): Promise<ReplayFigures[]> {
  const results: ReplayFigures[] = []
  for (const c of opts.cases) {
    const stream = counterStream(c)
    const seats = []
    for (let s = 0; s < opts.sessions; s++) seats.push(await seat(`p${s % c.players}`, stream.view, stream.arrivals))
    const sockets = seats.map((x) => x.socket)
    const frames = stream.frames
    const receive = (i: number) => {
      const f = frames[i % frames.length] as string
      for (const socket of sockets) socket.deliver(f)
    }
    const figures: ReplayFigures = { ...c, ops: stream.ops, frameBytes: (frames[0] as string).length, updateUs: [], actUs: [], roundTripUs: [] }

    const n = calibrate(clock, opts.runMs, receive)
    for (let run = 0; run < opts.runs; run++) {
      const t0 = clock()
      for (let i = 0; i < n; i++) receive(i)
      figures.updateUs.push((clock() - t0) / (n * sockets.length))
    }

    // One seat acts, as a phone does. Ids count up from 1 per client; the world answers each with an ack.
    const { session, socket } = seats[0] as { session: GameSession; socket: ReplaySocket }
    let nextId = 1
    let rev = 1_000_000
    /** `actBatch` acts, timed; then one frame acknowledges them all, untimed. */
    const actBatch = async (): Promise<{ timed: number; all: number }> => {
      const t0 = clock()
      for (let i = 0; i < opts.actBatch; i++) session.act("inc", { by: 1 }).then(noop)
      const t1 = clock()
      const acks: string[] = []
      for (let id = nextId; id < nextId + opts.actBatch; id++) acks.push(`{"i":${id},"ok":true,"v":${id}}`)
      nextId += opts.actBatch
      socket.deliver(`{"t":"u","rev":${rev++},"a":[${acks.join(",")}]}`)
      await Promise.resolve()
      return { timed: t1 - t0, all: clock() - t0 }
    }
    let trial = 0
    let tried = 0
    while (trial < 20_000) (trial += (await actBatch()).all), tried++
    const batches = Math.max(4, Math.ceil((tried * opts.runMs * 1000) / trial / 2))
    for (let run = 0; run < opts.runs; run++) {
      let timed = 0
      for (let b = 0; b < batches; b++) timed += (await actBatch()).timed
      figures.actUs.push(timed / (batches * opts.actBatch))
    }

    const trips = batches * opts.actBatch
    for (let run = 0; run < opts.runs + 1; run++) {
      const acks = Array.from({ length: trips }, (_, i) => `{"t":"u","rev":${rev + i},"a":[{"i":${nextId + i},"ok":true,"v":${nextId + i}}]}`)
      rev += trips
      const t0 = clock()
      for (let i = 0; i < trips; i++) {
        session.act("inc", { by: 1 }).then(noop)
        socket.deliver(acks[i] as string)
        if ((i & 255) === 255) await Promise.resolve()
      }
      await Promise.resolve()
      const took = clock() - t0
      nextId += trips
      if (run > 0) figures.roundTripUs.push(took / trips)
    }
    if (session.pendingCount !== 0) throw new Error(`${session.pendingCount} actions left unanswered: the replay lost count of ids`)
    for (const s of seats) s.session.close()
    results.push(figures)
  }
  return results
}
