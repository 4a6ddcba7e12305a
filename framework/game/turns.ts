import * as v from "valibot"
import type { PlayerId } from "./define.ts"

/**
 * Whose turn it is, in what order, and until when: plain data that lives in
 * a game's state (declare it with `turnsSchema`), changed only through
 * `turns`. Turn-based games all hand-rolled the same counter and deadline.
 */
export interface Turns {
  /** Who plays, in turn order. */
  order: PlayerId[]
  /** Whose turn it is (null: nobody's, before the start or after the end). */
  current: PlayerId | null
  /** Grows with every turn: a turn timer that fires after its turn passed sees it and does nothing. */
  number: number
  /** When the current turn's clock runs out (ms since the epoch), or null without a clock. */
  endsAt: number | null
}

/** The schema of `Turns`, for a game's `state`: `state: v.object({ turns: turnsSchema, ... })`. */
export const turnsSchema = v.object({
  order: v.array(v.string()),
  current: v.nullable(v.string()),
  number: v.number(),
  endsAt: v.nullable(v.number()),
})

/**
 * The payload of a turn clock's timer, `{ turn }`: declare the timer with it,
 * `timers: { turnOver: { payload: turnTimerSchema, apply(ctx) { ... } } }`.
 */
export const turnTimerSchema = v.object({ turn: v.number() })

/** A turn clock: the turn passes after `ms` through the game's timer `timer` (its payload: `{ turn }`). */
export interface TurnClock<TTimer extends string = string> {
  /** How long a turn lasts, ms. */
  ms: number
  /** The game's timer (a key of its `timers`) that passes the turn; its payload is `{ turn }` (see isCurrent). */
  timer: TTimer
}

/** What the turn functions need of a hook's context. */
interface Ctx<TTimer extends string> {
  now: number
  // Not a TimerControl: its generic `after` would let a clock timer of any payload through.
  timers: {
    after(ms: number, name: TTimer, payload: v.InferInput<typeof turnTimerSchema>): number
    cancelAll(name: TTimer): number
  }
}

/** Pure functions over `Turns` (they mutate the draft they are given, like game code does). */
export const turns = {
  /** Nobody's turn yet, in this order. */
  create(order: PlayerId[] = []): Turns {
    return { order: [...order], current: null, number: 0, endsAt: null }
  },

  /** Gives the turn to `player` (with a clock: the game's timer fires when it runs out). */
  begin<TTimer extends string>(t: Turns, ctx: Ctx<TTimer>, player: PlayerId, clock?: TurnClock<TTimer>): void {
    t.current = player
    t.number++
    t.endsAt = clock ? ctx.now + clock.ms : null
    if (clock) {
      ctx.timers.cancelAll(clock.timer)
      ctx.timers.after(clock.ms, clock.timer, { turn: t.number })
    }
  },

  /** The player after `player` in turn order, wrapping around (null when nobody else plays). */
  after(t: Turns, player: PlayerId): PlayerId | null {
    if (t.order.length === 0) return null
    const i = t.order.indexOf(player)
    const next = t.order[(i + 1) % t.order.length] as PlayerId
    return next === player && t.order.length === 1 ? player : next
  },

  /** Passes the turn to the next player in order (the first one when it was nobody's). */
  pass<TTimer extends string>(t: Turns, ctx: Ctx<TTimer>, clock?: TurnClock<TTimer>): void {
    const next = t.current === null ? (t.order[0] ?? null) : turns.after(t, t.current)
    if (next === null) return turns.stop(t, ctx, clock?.timer)
    turns.begin(t, ctx, next, clock)
  },

  /** Whether a turn timer's payload belongs to the turn in progress (a late one of a past turn does nothing). */
  isCurrent(t: Turns, payload: unknown): boolean {
    return t.current !== null && typeof payload === "object" && payload !== null && (payload as { turn?: unknown }).turn === t.number
  },

  /** Stops the clock; the turn stays with its player until `begin` or `pass` (e.g. while a move's outcome is on show). */
  hold<TTimer extends string>(t: Turns, ctx: Ctx<TTimer>, timer: TTimer): void {
    t.endsAt = null
    ctx.timers.cancelAll(timer)
  },

  /** Nobody's turn any more (the game ended, or waits); the clock's timer is cancelled. */
  stop<TTimer extends string>(t: Turns, ctx: Ctx<TTimer>, timer?: TTimer): void {
    t.current = null
    t.endsAt = null
    if (timer) ctx.timers.cancelAll(timer)
  },

  /** Takes a player out of the order; if it was its turn, the turn passes on. */
  remove<TTimer extends string>(t: Turns, ctx: Ctx<TTimer>, player: PlayerId, clock?: TurnClock<TTimer>): void {
    const i = t.order.indexOf(player)
    if (i < 0) return
    const wasCurrent = t.current === player
    const next = wasCurrent ? turns.after(t, player) : null
    t.order.splice(i, 1)
    if (!wasCurrent) return
    if (next === null || next === player) turns.stop(t, ctx, clock?.timer)
    else turns.begin(t, ctx, next, clock)
  },
}
