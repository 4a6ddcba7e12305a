import { create, current, isDraft } from "mutative"
import * as v from "valibot"
import type { AnyGame, GameContext, PlayerId, StateOf, ViewOf } from "./define.ts"
import { explainIssues, GameLoadError, Rejection } from "./errors.ts"
import { idProblem } from "./ids.ts"
import { jsonProblem } from "./plain.ts"
import { type ClientLedger, LEDGER_RESULTS, LEDGERS_PER_PLAYER, type LedgerResult, type SessionRecord } from "./record.ts"
import { type ReplayOptions, readReplayFile, runSteps } from "./replay.ts"
import { type RngState, rngOver, seedRng } from "./rng.ts"
import { firedPayload, migratedTimers, pendingTimersProblem, storedPayload, timerOf } from "./timers.ts"

export type Outcome = { ok: true; value?: unknown; duplicate?: true } | { ok: false; code: string; message: string; duplicate?: true }

export interface ActRequest {
  player: PlayerId
  /** The SDK instance's id: action ids are counted per client. */
  client: string
  id: number
  name: string
  input: unknown
  now: number
}

/** An event for players; `to` null means everyone. */
export interface Emitted {
  event: string
  data: unknown
  to: readonly PlayerId[] | null
}

/** A session to start after the step that asked for it committed. */
export interface Spawn {
  id: string
  game: string
  options: unknown
}

/** Failures of game code that no player caused (timers, ticks): the host logs them. */
export type GameFault = { where: string; error: unknown }

/** Ticks replayed at most per `advance`: a session that fell behind (a move, a stall) skips ahead instead. */
const MAX_CATCHUP_TICKS = 5

/**
 * One session's logic, pure: every call takes the time as an argument and no
 * I/O happens here. Each step runs as a transaction on a draft of the
 * record; a rejection or a throw leaves the record exactly as it was.
 */
export class Session<G extends AnyGame = AnyGame> {
  #record: SessionRecord
  #events: Emitted[] = []
  #faults: GameFault[] = []
  #spawns: Spawn[] = []

  private constructor(
    /** The game module this session runs. */
    readonly game: G,
    record: SessionRecord,
  ) {
    this.#record = record
  }

  /** Starts a new session: validates the options, runs `setup`, checks its state against the schema. */
  static create<G extends AnyGame>(
    game: G,
    init: { id: string; now: number; seed?: string; options?: unknown },
  ): Session<G> {
    let options = init.options
    if (game.options) {
      const parsed = v.safeParse(game.options, init.options)
      if (!parsed.success) throw new GameLoadError("invalid_options", `options ${explainIssues(parsed.issues)}`)
      options = parsed.output
    } else if (init.options !== undefined && init.options !== null) {
      throw new GameLoadError("invalid_options", `game "${game.name}" takes no options`)
    }
    const rngState = seedRng(init.seed ?? init.id)
    let state: unknown
    try {
      state = game.setup({ now: init.now, rng: rngOver(rngState), options })
    } catch (error) {
      throw new GameLoadError("game_error", `setup() of "${game.name}" threw: ${messageOf(error)}`)
    }
    const checked = v.safeParse(game.state, state)
    if (!checked.success)
      throw new GameLoadError("game_error", `setup() of "${game.name}" returned a state that fails its schema: ${explainIssues(checked.issues)}`)
    const unfit = jsonProblem(checked.output, undefined)
    if (unfit) throw new GameLoadError("game_error", `setup() of "${game.name}" returned a state JSON cannot carry: ${unfit}`)
    return new Session(game, {
      id: init.id,
      game: game.name,
      version: game.version,
      status: "open",
      state: checked.output,
      players: [],
      timers: [],
      nextTimerId: 1,
      rng: rngState,
      tickAt: game.tick ? init.now : null,
      clients: {},
      result: null,
      createdAt: init.now,
      activeAt: init.now,
      endedAt: null,
      rev: 1,
    })
  }

  /**
   * Resumes a stored record under this game module: migrates an older state
   * version step by step and validates the result. Throws GameLoadError with
   * the reason when this module cannot run it.
   */
  static resume<G extends AnyGame>(game: G, record: SessionRecord): Session<G> {
    if (record.game !== game.name)
      throw new GameLoadError("game_error", `session ${record.id} is a "${record.game}" game, not "${game.name}"`)
    if (record.version > game.version)
      throw new GameLoadError(
        "version_too_new",
        `session ${record.id} has state version ${record.version}, newer than this node's "${game.name}" version ${game.version}`,
      )
    let state: unknown = record.state
    // Migration steps may bring the pending timers along (renamed, re-shaped, dropped): they get copies.
    const moving = { timers: record.version < game.version ? structuredClone(record.timers) : [] }
    for (let from = record.version; from < game.version; from++) {
      const step = game.migrate?.[from]
      if (!step)
        throw new GameLoadError(
          "no_migration",
          `"${game.name}" has no migrate[${from}] to bring session ${record.id} from version ${from} to ${from + 1}`,
        )
      try {
        state = step(structuredClone(state), moving)
      } catch (error) {
        throw new GameLoadError("migration_failed", `migrate[${from}] of "${game.name}" threw: ${messageOf(error)}`)
      }
    }
    let { timers, nextTimerId } = record
    if (record.version < game.version) {
      try {
        ;({ timers, nextTimerId } = migratedTimers(moving.timers, nextTimerId))
      } catch (error) {
        throw new GameLoadError("migration_failed", `the migration of "${game.name}" left bad timers: ${messageOf(error)}`)
      }
    }
    const checked = v.safeParse(game.state, state)
    if (!checked.success)
      throw new GameLoadError(
        "invalid_state",
        `session ${record.id} (state version ${record.version}) fails the "${game.name}" v${game.version} schema: ${explainIssues(checked.issues)}`,
      )
    const badTimer = pendingTimersProblem(game, timers)
    if (badTimer)
      throw new GameLoadError(
        "invalid_timer",
        `session ${record.id} (state version ${record.version}) has a ${badTimer} under "${game.name}" v${game.version}`,
      )
    // A version that brings ticks starts them from the session's last activity (the catch-up cap applies).
    const tickAt = record.tickAt ?? (game.tick ? record.activeAt : null)
    return new Session(game, { ...record, state: checked.output, version: game.version, tickAt, timers, nextTimerId })
  }

  /**
   * Replays a history file exported from a node (`GET /sessions/:id/export`,
   * the dashboard's inspector), already parsed: resumes its start record
   * under `game` and applies its steps. Throws ReplayError naming what is
   * wrong with the file.
   */
  static replay<G extends AnyGame>(game: G, file: unknown, options?: ReplayOptions): Session<G> {
    const f = readReplayFile(game, file)
    const session = Session.resume(game, f.start as SessionRecord)
    runSteps(session, f.steps, options)
    return session
  }

  /** The whole session as plain JSON, what the store checkpoints. Each step replaces it rather than changing it. */
  get record(): SessionRecord<StateOf<G>> {
    return this.#record as SessionRecord<StateOf<G>>
  }
  /** The session's id. */
  get id(): string {
    return this.#record.id
  }
  /** Whether the session has ended (the game's `end`, or `end` here). */
  get ended(): boolean {
    return this.#record.status === "ended"
  }
  /** The seat `player` holds, or undefined. */
  seatOf(player: PlayerId): number | undefined {
    return this.#record.players.find((s) => s.player === player)?.seat
  }

  /** What `player` sees of the state. */
  view(player: PlayerId): ViewOf<G> {
    return (this.game.view ? this.game.view(this.#record.state, player) : this.#record.state) as ViewOf<G>
  }

  /** Highest action id of `client` already applied (0 for a new client). */
  appliedSeq(client: string): number {
    return ledgerOf(this.#record, client)?.seq ?? 0
  }

  /** The events game code emitted since the last call, for the host to deliver; clears them. */
  takeEvents(): Emitted[] {
    const out = this.#events
    this.#events = []
    return out
  }
  /** The sessions game code asked for (`spawn`) since the last call, for the host to create; clears them. */
  takeSpawns(): Spawn[] {
    const out = this.#spawns
    this.#spawns = []
    return out
  }
  /** Failures of game code no player caused (timers, ticks, `onLeave`) since the last call, for the host to log; clears them. */
  takeFaults(): GameFault[] {
    const out = this.#faults
    this.#faults = []
    return out
  }

  /** Seats a player, or confirms the seat it already holds (a reconnect). */
  join(player: PlayerId, now: number): { ok: true; seat: number; rejoined: boolean } | { ok: false; code: string; message: string } {
    const bad = idProblem(player)
    if (bad) return fail("invalid_id", `player id ${bad}`)
    const held = this.seatOf(player)
    if (held !== undefined) return { ok: true, seat: held, rejoined: true }
    const r = this.#record
    if (r.status === "ended") return fail("session_ended", `session ${r.id} has ended`)
    if (r.players.length >= this.game.players.max)
      return fail("session_full", `session ${r.id} is full (${this.game.players.max} players)`)
    const taken = new Set(r.players.map((s) => s.seat))
    let seat = 0
    while (taken.has(seat)) seat++
    const out = this.#transact(now, player, (d, ctx) => {
      d.players = [...d.players, { player, seat, joinedAt: now }].sort((a, b) => a.seat - b.seat) // seat order is what ctx.players promises
      d.activeAt = now
      this.game.onJoin?.(Object.assign(ctx, { player }))
    })
    return out.ok ? { ok: true, seat, rejoined: false } : out
  }

  /** Gives up a seat. `onLeave` may not refuse: a failing hook is logged and the seat freed anyway. */
  leave(player: PlayerId, now: number): Outcome {
    if (this.seatOf(player) === undefined) return fail("not_seated", `${player} holds no seat in session ${this.id}`)
    const drop = (d: SessionRecord) => {
      d.players = d.players.filter((s) => s.player !== player)
      d.activeAt = now
    }
    const out = this.#transact(now, player, (d, ctx) => {
      drop(d)
      if (d.status === "open") this.game.onLeave?.(Object.assign(ctx, { player }))
    })
    if (out.ok) return out
    this.#faults.push({ where: "onLeave", error: new Error(`${out.code}: ${out.message}`) })
    return this.#transact(now, player, (d) => drop(d))
  }

  /** Validates and applies one action, at most once per (client, id). */
  act(req: ActRequest): Outcome {
    const r = this.#record
    const ledger = ledgerOf(r, req.client)
    // A ledger exists only for ids that passed this check (its player's seat was too).
    const bad = ledger ? undefined : idProblem(req.client)
    if (bad) return fail("invalid_id", `client id ${bad}`)
    if (ledger && ledger.player !== req.player)
      return fail("bad_request", `client id ${req.client} belongs to another player`)
    if (!Number.isSafeInteger(req.id) || req.id < 1) return fail("bad_request", "action id must be a positive integer")
    if (ledger && req.id <= ledger.seq) return { ...answerOf(ledger.results, req.id), duplicate: true }
    if (r.status === "ended") return fail("session_ended", `session ${r.id} has ended`)
    if (this.seatOf(req.player) === undefined) return fail("not_seated", `${req.player} holds no seat in session ${r.id}`)
    const def = Object.hasOwn(this.game.actions, req.name) ? this.game.actions[req.name] : undefined
    if (!def) return this.#refuse(req, "unknown_action", `"${this.game.name}" has no action "${req.name}"`)
    const parsed = v.safeParse(def.input, req.input)
    if (!parsed.success) return this.#refuse(req, "invalid_input", `${req.name}: ${explainIssues(parsed.issues)}`)
    const out = this.#transact(req.now, req.player, (d, ctx) => {
      const value = toJson(def.apply(Object.assign(ctx, { input: parsed.output, player: req.player })))
      d.activeAt = req.now
      record(d, req, [req.id, true, value ?? null])
      return value
    })
    // The ledger keeps "no value" as null: answer the same way a resend will be answered.
    if (out.ok) return out.value === undefined || out.value === null ? { ok: true } : out
    return this.#refuse(req, out.code, out.message)
  }

  /**
   * Runs the timers that are due and the ticks that are owed, up to `now`, in
   * time order (a timer and a tick at the same time: the timer first).
   */
  advance(now: number): void {
    const tick = this.game.tick
    const period = tick ? 1000 / tick.hz : 0
    let owed = 0
    let at = this.#record.tickAt ?? 0
    if (tick && this.#record.tickAt !== null) {
      owed = Math.floor((now - at) / period)
      if (owed > MAX_CATCHUP_TICKS) {
        at += (owed - MAX_CATCHUP_TICKS) * period
        owed = MAX_CATCHUP_TICKS
      }
    }
    for (let fired = 0; this.#record.status === "open"; ) {
      const earliestTimer = fired < 1000 ? earliest(this.#record.timers) : undefined
      const due = earliestTimer && earliestTimer.at <= now ? earliestTimer : undefined
      if (tick && owed > 0 && (!due || at + period < due.at)) {
        owed--
        at += period
        const t = at
        const out = this.#transact(t, null, (d, ctx) => {
          d.tickAt = t
          tick.apply(Object.assign(ctx, { dt: 1 / tick.hz }))
        })
        if (!out.ok) {
          this.#faults.push({ where: "tick", error: new Error(`${out.code}: ${out.message}`) })
          this.#transact(t, null, (d) => {
            d.tickAt = t
          })
        }
      } else if (due) {
        fired++
        const timer = timerOf(this.game, due.name)
        const out = this.#transact(due.at, null, (d, ctx) => {
          d.timers = d.timers.filter((t) => t.id !== due.id)
          timer?.apply(Object.assign(ctx, { payload: firedPayload(timer, due.payload) }))
        })
        if (!out.ok) {
          this.#faults.push({ where: `timer "${due.name}"`, error: new Error(`${out.code}: ${out.message}`) })
          this.#transact(due.at, null, (d) => {
            d.timers = d.timers.filter((t) => t.id !== due.id)
          })
        }
      } else break
    }
  }

  /** When `advance` next has work: the earliest timer or tick, or null. */
  nextWakeAt(): number | null {
    const r = this.#record
    if (r.status !== "open") return null
    let at = earliest(r.timers)?.at ?? Number.POSITIVE_INFINITY
    if (this.game.tick && r.tickAt !== null) at = Math.min(at, r.tickAt + 1000 / this.game.tick.hz)
    return at === Number.POSITIVE_INFINITY ? null : at
  }

  /** Ends the session from outside the game (idle collection, an operator). */
  end(result: unknown, now: number): void {
    if (this.#record.status === "ended") return
    this.#transact(now, null, (_d, ctx) => ctx.end(result))
  }

  #refuse(req: ActRequest, code: string, message: string): Outcome {
    // Remembered like a success: a resend must get the same answer, not a second try.
    const next = { ...this.#record, rev: this.#record.rev + 1 }
    record(next, req, [req.id, false, code, message])
    this.#record = next
    return { ok: false, code, message }
  }

  /**
   * One step. Only the game's state is a draft (mutative): the runtime's own
   * fields are changed on a shallow copy of the record, each change making a
   * new array or object (copy on write), so a step that throws leaves the
   * record as it was and unchanged parts stay shared. Drafting the whole
   * record made a proxy of every ledger and list a step touched, which was
   * most of an action's cost.
   */
  #transact(
    now: number,
    actor: PlayerId | null,
    body: (shell: SessionRecord, ctx: GameContext<unknown> & { reject(code: string, message?: string): never }) => unknown,
  ): { ok: true; value: unknown } | { ok: false; code: string; message: string } {
    const base = this.#record
    const shell: SessionRecord = { ...base }
    const rngState = base.rng.slice() as RngState
    const rng = rngOver(rngState)
    const events: Emitted[] = []
    const spawns: Spawn[] = []
    let value: unknown
    try {
      const held = create({ state: base.state }, (h) => {
        value = body(shell, contextOver(this.game, shell, h, now, rng, events, spawns))
      })
      shell.state = held.state
      const unfit = jsonProblem(shell.state, base.state)
      if (unfit) throw new Error(unfit)
    } catch (error) {
      if (error instanceof Rejection) return { ok: false, code: error.code, message: error.message }
      const where = actor ? `by ${actor}` : "in game code"
      return { ok: false, code: "game_error", message: `${this.game.name}: ${messageOf(error)} (${where})` }
    }
    if (rngState.some((x, i) => x !== base.rng[i])) shell.rng = rngState
    shell.rev = base.rev + 1
    this.#record = shell
    this.#events.push(...events)
    this.#spawns.push(...spawns)
    return { ok: true, value }
  }
}

/** The game's view of a step: `held.state` is the draft of the state, `d` the record's shell (see #transact). */
function contextOver(
  game: AnyGame,
  d: SessionRecord,
  held: { state: unknown },
  now: number,
  rng: ReturnType<typeof rngOver>,
  events: Emitted[],
  spawns: Spawn[],
): GameContext<unknown> & { reject(code: string, message?: string): never } {
  const schedule = (at: number, name: string, payload: unknown): number => {
    const timer = timerOf(game, name)
    if (!timer) throw new Error(`timers.${name} is not defined`)
    if (!Number.isFinite(at)) throw new Error(`timer "${name}" needs a finite time`)
    const stored = storedPayload(timer, isDraft(payload) ? current(payload as object) : payload)
    const id = d.nextTimerId++
    d.timers = [...d.timers, { id, name, at, payload: stored }]
    return id
  }
  return {
    get state() {
      return held.state
    },
    set state(next) {
      held.state = next
    },
    now,
    rng,
    get players() {
      return d.players.map((s) => s.player)
    },
    timers: {
      after: (ms, name, payload) => schedule(now + ms, name, payload),
      at: (time, name, payload) => schedule(time, name, payload),
      cancel(id) {
        const before = d.timers.length
        d.timers = d.timers.filter((t) => t.id !== id)
        return d.timers.length < before
      },
      cancelAll(name) {
        const before = d.timers.length
        d.timers = d.timers.filter((t) => t.name !== name)
        return before - d.timers.length
      },
    },
    emit(event, data, to) {
      events.push({ event, data: toJson(data), to: to === undefined ? null : typeof to === "string" ? [to] : [...to] })
    },
    end(result) {
      if (d.status === "ended") return
      d.status = "ended"
      d.result = toJson(result) ?? null
      d.endedAt = now
      d.timers = []
    },
    spawn(game, options) {
      if (typeof game !== "string" || game.length === 0) throw new Error("spawn(game): game must be a game's name")
      const n = (d.spawned ?? 0) + 1
      d.spawned = n
      const id = `${d.id}-${n}`
      spawns.push({ id, game, options: toJson(options) })
      return id
    },
    reject(code: string, message?: string): never {
      throw new Rejection(code, message ?? code)
    },
  }
}

/** Writes an answer into the client's ledger on `d` (a shell: the ledgers map and the ledger are copied, never changed). */
function record(d: SessionRecord, req: ActRequest, answer: LedgerResult): void {
  const clients = { ...d.clients }
  const ledger = ledgerOf(d, req.client)
  if (!ledger) {
    const mine = Object.entries(clients).filter(([, l]) => l.player === req.player)
    if (mine.length >= LEDGERS_PER_PLAYER) {
      mine.sort((a, b) => a[1].at - b[1].at)
      for (const [id] of mine.slice(0, mine.length - LEDGERS_PER_PLAYER + 1)) delete clients[id]
    }
  }
  const results = ledger ? ledger.results.slice(ledger.results.length >= LEDGER_RESULTS ? ledger.results.length - LEDGER_RESULTS + 1 : 0) : []
  results.push(answer)
  clients[req.client] = { player: req.player, seq: req.id, at: req.now, results }
  d.clients = clients
}

/** A client's ledger: an own key only, whatever the record was loaded from. */
function ledgerOf(r: SessionRecord, client: string): ClientLedger | undefined {
  return Object.hasOwn(r.clients, client) ? r.clients[client] : undefined
}

function answerOf(results: LedgerResult[], id: number): Outcome {
  const hit = results.find((r) => r[0] === id)
  if (!hit) return { ok: true } // older than the ledger keeps: it was applied, its value is gone
  return hit[1] ? (hit[2] === null || hit[2] === undefined ? { ok: true } : { ok: true, value: hit[2] }) : { ok: false, code: hit[2], message: hit[3] }
}

function earliest<T extends { at: number; id: number }>(items: readonly T[]): T | undefined {
  let best: T | undefined
  for (const t of items) if (!best || t.at < best.at || (t.at === best.at && t.id < best.id)) best = t
  return best
}

/** Values leave the transaction as plain JSON: no drafts, no functions, no undefined holes. */
function toJson(value: unknown): unknown {
  if (value === undefined) return undefined
  const plain = isDraft(value) ? current(value as object) : value
  if (plain === null || typeof plain !== "object") return plain
  return JSON.parse(JSON.stringify(plain))
}

function fail(code: string, message: string): { ok: false; code: string; message: string } {
  return { ok: false, code, message }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
