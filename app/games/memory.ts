/**
 * Memory (concentration): a turn-based game with hidden information.
 *
 * A deck of pairs lies face down. On your turn you flip two cards: a pair
 * scores and you go again; a miss stays on show for a moment, is turned back
 * and the turn passes. The faces of face-down cards never leave the server:
 * `view` replaces them with null.
 */
import { defineGame, type PlayerId, type TimerControl, turns, turnsSchema, turnTimerSchema, v } from "batonjs"

export const MIN_PLAYERS = 2
export const MAX_PLAYERS = 4
/** How long a player may think before the turn passes. */
export const TURN_MS = 30_000
/** How long a mismatched pair stays face up. */
export const SHOW_MS = 1_500
export const DEFAULT_PAIRS = 8

const Card = v.object({
  /** Which picture (0..pairs-1); two cards share each. Hidden by `view` while face down. */
  face: v.number(),
  /** Who found this card's pair, or null. */
  matchedBy: v.nullable(v.string()),
})

const State = v.object({
  phase: v.picklist(["waiting", "playing", "ended"]),
  cards: v.array(Card),
  /** Indices turned up in the current try (0, 1 or 2). */
  flipped: v.array(v.number()),
  /**
   * Whose try it is: the order is the seated players in the order they sat
   * down; a match starts a new try of the same player (a new turn number,
   * so a late timer of the try before does nothing).
   */
  turns: turnsSchema,
  scores: v.record(v.string(), v.number()),
  /** A mismatched pair is on show: no flips until it is turned back. */
  showing: v.boolean(),
  winners: v.array(v.string()),
})

export type MemoryState = v.InferOutput<typeof State>

/** Version 1 kept the turn by hand (order, turn, turnNo, turnEndsAt); `migrate[1]` brings such sessions to `turns`. */
export interface MemoryStateV1 extends Omit<MemoryState, "turns"> {
  order: PlayerId[]
  turn: PlayerId | null
  turnNo: number
  turnEndsAt: number | null
}

/** A card as one player sees it: `face` is null while it lies face down. */
export interface CardView {
  face: number | null
  up: boolean
  matchedBy: string | null
}
/**
 * What a player sees. The turn is shown as version 1 showed it (`order`,
 * `turn`, `turnEndsAt`), so a page loaded before the state moved to `turns`
 * keeps working while a rolling deploy brings its session to version 2.
 */
export interface MemoryView extends Omit<MemoryState, "cards" | "turns"> {
  cards: CardView[]
  /** Turn order: the seated players in the order they sat down. */
  order: PlayerId[]
  /** Whose try it is, or null. */
  turn: PlayerId | null
  /** When the current try times out (ms since the epoch), or null. */
  turnEndsAt: number | null
  you: PlayerId
}

/** A try lasts TURN_MS; then `turnTimeout` passes the turn on. */
const clock = { ms: TURN_MS, timer: "turnTimeout" as const }

/** What the helpers below use of a hook's context: the timers they schedule or cancel, by payload. */
type Ctx = {
  state: MemoryState
  now: number
  timers: TimerControl<{ turnTimeout: { turn: number }; showOver: { turn: number } }>
  emit(event: string, data?: unknown): void
}

/** Starts (or restarts, after a match) `player`'s try with a fresh deadline. */
function beginTry(ctx: Ctx, player: PlayerId): void {
  ctx.state.flipped = []
  turns.begin(ctx.state.turns, ctx, player, clock)
}

/** Turns the try's cards back and gives the turn to the next player in order. */
function passTurn(ctx: Ctx): void {
  const s = ctx.state
  s.flipped = []
  s.showing = false
  turns.pass(s.turns, ctx, clock)
  if (s.turns.current !== null) ctx.emit("turn", { player: s.turns.current })
}

function finish(ctx: Ctx & { end(result?: unknown): void }, reason: "all_pairs_found" | "opponents_left"): void {
  const s = ctx.state
  const contenders = reason === "opponents_left" ? s.turns.order : Object.keys(s.scores)
  const best = Math.max(0, ...contenders.map((p) => s.scores[p] ?? 0))
  s.winners = contenders.filter((p) => (s.scores[p] ?? 0) === best)
  s.phase = "ended"
  turns.stop(s.turns, ctx, clock.timer)
  s.flipped = []
  s.showing = false
  ctx.end({ winners: s.winners, scores: { ...s.scores }, reason })
}

export default defineGame({
  name: "memory",
  version: 2,
  players: { min: MIN_PLAYERS, max: MAX_PLAYERS },
  options: v.optional(
    v.object({ pairs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(2), v.maxValue(18))) }),
  ),
  state: State,
  setup({ rng, options }): MemoryState {
    const pairs = (options as { pairs?: number } | undefined)?.pairs ?? DEFAULT_PAIRS
    const faces = rng.shuffle(Array.from({ length: pairs * 2 }, (_, i) => i >> 1))
    return {
      phase: "waiting",
      cards: faces.map((face) => ({ face, matchedBy: null })),
      flipped: [],
      turns: turns.create(),
      scores: {},
      showing: false,
      winners: [],
    }
  },

  onJoin(ctx) {
    const s = ctx.state
    if (s.phase !== "waiting") ctx.reject("game_started", "this game has already started")
    s.turns.order.push(ctx.player)
    s.scores[ctx.player] = 0
    ctx.emit("joined", { player: ctx.player })
    // A full table starts by itself; a smaller one starts with the `start` action.
    if (s.turns.order.length === MAX_PLAYERS) {
      s.phase = "playing"
      beginTry(ctx, s.turns.order[0] as string)
      ctx.emit("start", { order: s.turns.order })
    }
  },

  onLeave(ctx) {
    const s = ctx.state
    if (!s.turns.order.includes(ctx.player)) return
    if (s.phase === "waiting") delete s.scores[ctx.player]
    if (s.phase === "playing" && s.turns.order.length - 1 < MIN_PLAYERS) {
      s.turns.order = s.turns.order.filter((p) => p !== ctx.player)
      return finish(ctx, "opponents_left")
    }
    const wasTurn = s.phase === "playing" && s.turns.current === ctx.player
    if (wasTurn) {
      ctx.timers.cancelAll("showOver")
      s.flipped = []
      s.showing = false
    }
    // On the leaver's turn, the player who sat after them is next.
    turns.remove(s.turns, ctx, ctx.player, clock)
    if (wasTurn) ctx.emit("turn", { player: s.turns.current })
  },

  actions: {
    start: {
      input: v.optional(v.object({})),
      apply(ctx) {
        const s = ctx.state
        if (s.phase !== "waiting") ctx.reject("already_started", "the game has already started")
        if (s.turns.order.length < MIN_PLAYERS)
          ctx.reject("not_enough_players", `memory needs at least ${MIN_PLAYERS} players (${s.turns.order.length} seated)`)
        s.phase = "playing"
        beginTry(ctx, s.turns.order[0] as string)
        ctx.emit("start", { order: s.turns.order })
      },
    },

    flip: {
      input: v.object({ index: v.pipe(v.number(), v.integer(), v.minValue(0)) }),
      apply(ctx) {
        const { state: s, input, player } = ctx
        if (s.phase === "waiting") ctx.reject("not_started", "the game has not started yet")
        if (s.phase !== "playing") ctx.reject("game_over", "the game is over")
        if (s.turns.current !== player) ctx.reject("not_your_turn", `it is ${s.turns.current}'s turn`)
        if (s.showing) ctx.reject("wait", "wait until the last pair is turned back")
        const card = s.cards[input.index]
        if (!card) return ctx.reject("no_such_card", `there is no card ${input.index} (${s.cards.length} cards)`)
        if (card.matchedBy !== null || s.flipped.includes(input.index))
          ctx.reject("card_up", `card ${input.index} is already face up`)

        s.flipped.push(input.index)
        if (s.flipped.length === 1) return { face: card.face }

        const [a, b] = s.flipped as [number, number]
        const first = s.cards[a]
        if (!first) return ctx.reject("no_such_card", `there is no card ${a}`)
        if (first.face === card.face) {
          first.matchedBy = player
          card.matchedBy = player
          s.scores[player] = (s.scores[player] ?? 0) + 1
          ctx.emit("match", { player, cards: [a, b], face: card.face })
          if (s.cards.every((c) => c.matchedBy !== null)) finish(ctx, "all_pairs_found")
          else beginTry(ctx, player) // a match: go again
          return { face: card.face, match: true }
        }
        // A miss: everyone sees the pair for a moment, then it is turned back and the turn passes.
        s.showing = true
        turns.hold(s.turns, ctx, clock.timer)
        ctx.timers.after(SHOW_MS, "showOver", { turn: s.turns.number })
        ctx.emit("miss", { player, cards: [a, b], faces: [first.face, card.face] })
        return { face: card.face, match: false }
      },
    },
  },

  timers: {
    /** The missed pair has been on show: turn it back and pass the turn. */
    showOver: {
      payload: turnTimerSchema,
      apply(ctx) {
        if (ctx.state.phase !== "playing" || !ctx.state.showing || !turns.isCurrent(ctx.state.turns, ctx.payload)) return
        passTurn(ctx)
      },
    },
    /** The try's clock ran out (a late one of an earlier try does nothing). */
    turnTimeout: {
      payload: turnTimerSchema,
      apply(ctx) {
        const s = ctx.state
        if (s.phase !== "playing" || s.showing || !turns.isCurrent(s.turns, ctx.payload)) return
        ctx.emit("timeout", { player: s.turns.current })
        passTurn(ctx)
      },
    },
  },

  migrate: {
    // Version 2 keeps the turn with `turns`: the same data under new names, and the pending timers' `{ turnNo }` becomes `{ turn }`.
    1: ({ order, turn, turnNo, turnEndsAt, ...rest }: MemoryStateV1, ctx): MemoryState => {
      for (const t of ctx.timers) t.payload = { turn: (t.payload as { turnNo: number }).turnNo }
      return { ...rest, turns: { order, current: turn, number: turnNo, endsAt: turnEndsAt } }
    },
  },

  view({ turns: t, ...state }, player): MemoryView {
    return {
      ...state,
      order: t.order,
      turn: t.current,
      turnEndsAt: t.endsAt,
      you: player,
      cards: state.cards.map((c, i) => {
        const up = c.matchedBy !== null || state.flipped.includes(i)
        return { face: up ? c.face : null, up, matchedBy: c.matchedBy }
      }),
    }
  },
})
