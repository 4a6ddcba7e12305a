/**
 * Connect four: two players drop discs into a 7-column, 6-row grid; the
 * first to line up four (across, down or diagonally) wins. A full grid is a
 * draw. Turns alternate, with a turn clock: a player who lets it run out
 * loses the turn. Leaving a game in progress concedes it.
 *
 * Nothing is hidden, so there is no `view`: every player sees the state.
 */
import { defineGame, type PlayerId, turns, turnsSchema, v } from "batonjs"
import { COLUMNS, DISCS, discOf, freeRow, lineThrough, ROWS } from "./grid.ts"

/** How long a player may take to drop a disc before the turn passes. */
export const TURN_MS = 30_000
/** The turn clock: when it runs out, the `turnOver` timer passes the turn. */
const CLOCK = { ms: TURN_MS, timer: "turnOver" as const }

const State = v.object({
  phase: v.picklist(["waiting", "playing", "ended"]),
  /** Seat order (red, then yellow), whose turn it is, and until when. */
  turns: turnsSchema,
  /** Row by row from the top: cell = row * COLUMNS + column. */
  grid: v.array(v.nullable(v.picklist(DISCS))),
  winner: v.nullable(v.string()),
  /** The four cells that won, to highlight them. */
  line: v.array(v.number()),
})

export type ConnectFourState = v.InferOutput<typeof State>

const opponentOf = (s: ConnectFourState, player: PlayerId) => s.turns.order.find((p) => p !== player) ?? null

export default defineGame({
  name: "connect-four",
  version: 1,
  players: { min: 2, max: 2 },
  state: State,
  setup: (): ConnectFourState => ({ phase: "waiting", turns: turns.create(), grid: Array(ROWS * COLUMNS).fill(null), winner: null, line: [] }),

  onJoin(ctx) {
    const s = ctx.state
    if (s.phase !== "waiting") ctx.reject("game_started", "this game has already started")
    s.turns.order.push(ctx.player)
    ctx.emit("joined", { player: ctx.player })
    if (s.turns.order.length === 2) {
      s.phase = "playing"
      turns.pass(s.turns, ctx, CLOCK) // red starts
      ctx.emit("start", { order: s.turns.order })
    }
  },

  onLeave(ctx) {
    const s = ctx.state
    if (s.phase === "waiting") return turns.remove(s.turns, ctx, ctx.player)
    if (s.phase !== "playing") return
    const winner = opponentOf(s, ctx.player)
    s.phase = "ended"
    s.winner = winner
    turns.stop(s.turns, ctx, CLOCK.timer)
    ctx.end({ winner, reason: "opponent_left" })
  },

  actions: {
    drop: {
      input: v.object({ column: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(COLUMNS - 1)) }),
      apply(ctx): { row: number; won: boolean } {
        const { state: s, input, player } = ctx
        if (s.phase === "waiting") return ctx.reject("not_started", "waiting for a second player")
        if (s.phase === "ended") return ctx.reject("game_over", "the game is over")
        if (s.turns.current !== player) return ctx.reject("not_your_turn", `it is ${s.turns.current}'s turn`)
        const row = freeRow(s.grid, input.column)
        if (row < 0) return ctx.reject("column_full", `column ${input.column + 1} is full`)

        const cell = row * COLUMNS + input.column
        s.grid[cell] = discOf(s.turns.order, player)
        ctx.emit("drop", { by: player, column: input.column, row })
        const line = lineThrough(s.grid, cell)
        if (line.length > 0) {
          s.phase = "ended"
          s.winner = player
          s.line = line
          turns.stop(s.turns, ctx, CLOCK.timer)
          ctx.end({ winner: player, reason: "four_in_a_row" })
        } else if (s.grid.every((c) => c !== null)) {
          s.phase = "ended"
          turns.stop(s.turns, ctx, CLOCK.timer)
          ctx.end({ winner: null, reason: "draw" })
        } else turns.pass(s.turns, ctx, CLOCK)
        return { row, won: line.length > 0 }
      },
    },
  },

  timers: {
    turnOver(ctx) {
      const s = ctx.state
      // A clock of a turn that already passed (a disc came first) does nothing.
      if (s.phase !== "playing" || !turns.isCurrent(s.turns, ctx.payload)) return
      ctx.emit("timeout", { player: s.turns.current })
      turns.pass(s.turns, ctx, CLOCK)
    },
  },
})
