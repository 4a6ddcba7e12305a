/**
 * Memory (concentration): a turn-based game with hidden information.
 *
 * A deck of pairs lies face down. On your turn you flip two cards: a pair
 * scores and you go again; a miss stays on show for a moment, is turned back
 * and the turn passes. The faces of face-down cards never leave the server:
 * `view` replaces them with null.
 */
import { defineGame, type PlayerId, v } from "batonjs"

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
  /** Turn order: the seated players in the order they sat down. */
  order: v.array(v.string()),
  scores: v.record(v.string(), v.number()),
  turn: v.nullable(v.string()),
  /** Grows with every turn (and every extra try after a match): stale timers compare it. */
  turnNo: v.number(),
  /** When the current try times out (ms since the epoch), or null. */
  turnEndsAt: v.nullable(v.number()),
  /** A mismatched pair is on show: no flips until it is turned back. */
  showing: v.boolean(),
  winners: v.array(v.string()),
})

export type MemoryState = v.InferOutput<typeof State>

/** A card as one player sees it: `face` is null while it lies face down. */
export interface CardView {
  face: number | null
  up: boolean
  matchedBy: string | null
}
export type MemoryView = Omit<MemoryState, "cards"> & { cards: CardView[]; you: PlayerId }

type Timer = "turnTimeout" | "showOver"
type Ctx = {
  state: MemoryState
  now: number
  timers: { after(ms: number, name: Timer, payload?: unknown): number; cancelAll(name: Timer): number }
  emit(event: string, data?: unknown): void
}

/** Starts (or restarts, after a match) `player`'s try with a fresh deadline. */
function beginTry(ctx: Ctx, player: PlayerId): void {
  const s = ctx.state
  s.turn = player
  s.turnNo++
  s.flipped = []
  s.turnEndsAt = ctx.now + TURN_MS
  ctx.timers.cancelAll("turnTimeout")
  ctx.timers.after(TURN_MS, "turnTimeout", { turnNo: s.turnNo })
}

/** Turns the try's cards back and gives the turn to the next player in order. */
function passTurn(ctx: Ctx, from: PlayerId | null = ctx.state.turn): void {
  const s = ctx.state
  s.flipped = []
  s.showing = false
  const at = from === null ? -1 : s.order.indexOf(from)
  const next = s.order[(at + 1) % s.order.length]
  if (next === undefined) return
  beginTry(ctx, next)
  ctx.emit("turn", { player: next })
}

function finish(ctx: Ctx & { end(result?: unknown): void }, reason: "all_pairs_found" | "opponents_left"): void {
  const s = ctx.state
  const contenders = reason === "opponents_left" ? s.order : Object.keys(s.scores)
  const best = Math.max(0, ...contenders.map((p) => s.scores[p] ?? 0))
  s.winners = contenders.filter((p) => (s.scores[p] ?? 0) === best)
  s.phase = "ended"
  s.turn = null
  s.turnEndsAt = null
  s.flipped = []
  s.showing = false
  ctx.end({ winners: s.winners, scores: { ...s.scores }, reason })
}

export default defineGame({
  name: "memory",
  version: 1,
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
      order: [],
      scores: {},
      turn: null,
      turnNo: 0,
      turnEndsAt: null,
      showing: false,
      winners: [],
    }
  },

  onJoin(ctx) {
    const s = ctx.state
    if (s.phase !== "waiting") ctx.reject("game_started", "this game has already started")
    s.order.push(ctx.player)
    s.scores[ctx.player] = 0
    ctx.emit("joined", { player: ctx.player })
    // A full table starts by itself; a smaller one starts with the `start` action.
    if (s.order.length === MAX_PLAYERS) {
      s.phase = "playing"
      beginTry(ctx, s.order[0] as string)
      ctx.emit("start", { order: s.order })
    }
  },

  onLeave(ctx) {
    const s = ctx.state
    const wasTurn = s.turn === ctx.player
    const at = s.order.indexOf(ctx.player)
    if (at < 0) return
    // The player who sat after the leaver is next (the leaver's index, once it is gone).
    const successor = s.order[(at + 1) % s.order.length] ?? null
    s.order.splice(at, 1)
    if (s.phase === "waiting") {
      delete s.scores[ctx.player]
      return
    }
    if (s.phase !== "playing") return
    if (s.order.length < MIN_PLAYERS) return finish(ctx, "opponents_left")
    if (wasTurn && successor !== null) {
      ctx.timers.cancelAll("showOver")
      s.flipped = []
      s.showing = false
      beginTry(ctx, successor)
      ctx.emit("turn", { player: successor })
    }
  },

  actions: {
    start: {
      input: v.optional(v.object({})),
      apply(ctx) {
        const s = ctx.state
        if (s.phase !== "waiting") ctx.reject("already_started", "the game has already started")
        if (s.order.length < MIN_PLAYERS)
          ctx.reject("not_enough_players", `memory needs at least ${MIN_PLAYERS} players (${s.order.length} seated)`)
        s.phase = "playing"
        beginTry(ctx, s.order[0] as string)
        ctx.emit("start", { order: s.order })
      },
    },

    flip: {
      input: v.object({ index: v.pipe(v.number(), v.integer(), v.minValue(0)) }),
      apply(ctx) {
        const { state: s, input, player } = ctx
        if (s.phase === "waiting") ctx.reject("not_started", "the game has not started yet")
        if (s.phase !== "playing") ctx.reject("game_over", "the game is over")
        if (s.turn !== player) ctx.reject("not_your_turn", `it is ${s.turn}'s turn`)
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
        s.turnEndsAt = null
        ctx.timers.cancelAll("turnTimeout")
        ctx.timers.after(SHOW_MS, "showOver", { turnNo: s.turnNo })
        ctx.emit("miss", { player, cards: [a, b], faces: [first.face, card.face] })
        return { face: card.face, match: false }
      },
    },
  },

  timers: {
    showOver(ctx) {
      const { turnNo } = ctx.payload as { turnNo: number }
      if (ctx.state.phase !== "playing" || !ctx.state.showing || turnNo !== ctx.state.turnNo) return
      passTurn(ctx)
    },
    turnTimeout(ctx) {
      const { turnNo } = ctx.payload as { turnNo: number }
      const s = ctx.state
      if (s.phase !== "playing" || s.showing || turnNo !== s.turnNo) return
      ctx.emit("timeout", { player: s.turn })
      passTurn(ctx)
    },
  },

  view(state, player): MemoryView {
    return {
      ...state,
      you: player,
      cards: state.cards.map((c, i) => {
        const up = c.matchedBy !== null || state.flipped.includes(i)
        return { face: up ? c.face : null, up, matchedBy: c.matchedBy }
      }),
    }
  },
})
