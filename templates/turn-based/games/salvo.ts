/**
 * Salvo: a two-player naval battle with hidden information.
 *
 * When a player sits down, their fleet is placed at random (from the
 * session's seeded random source) on a 6×6 grid. Players take turns firing
 * at the other grid: a hit fires again, a miss passes the turn, and a player
 * who lets the turn clock run out loses the turn. Sink the whole enemy fleet
 * to win.
 *
 * Where the enemy ships lie never leaves the server: `view` shows each player
 * their own fleet and, of the other grid, only the results of their shots
 * (and, once the game is over, the ships that survived).
 */
import { defineGame, type PlayerId, type Rng, turns, turnsSchema, turnTimerSchema, v } from "batonjs"

/** The grid is SIZE × SIZE; a cell is `row * SIZE + col`. */
export const SIZE = 6
/** Ship lengths. */
export const FLEET = [3, 2, 2] as const
/** How long a player may take to fire before the turn passes. */
export const TURN_MS = 20_000
/** The turn clock: when it runs out, the `turnOver` timer passes the turn. */
const CLOCK = { ms: TURN_MS, timer: "turnOver" as const }

const Cell = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(SIZE * SIZE - 1))

const Board = v.object({
  /** Each ship is the list of its cells. */
  ships: v.array(v.array(Cell)),
  /** Cells the opponent has fired at, in order. */
  shots: v.array(Cell),
})

const State = v.object({
  phase: v.picklist(["waiting", "playing", "ended"]),
  /** Seat order (the first to sit fires first), whose turn it is, and until when. */
  turns: turnsSchema,
  boards: v.record(v.string(), Board),
  winner: v.nullable(v.string()),
})

export type SalvoState = v.InferOutput<typeof State>
type Board = v.InferOutput<typeof Board>

/** Your own grid: where your ships are and what the opponent hit. */
export type OwnCell = "sea" | "ship" | "hit" | "miss"
/** The other grid as you know it. "ship" appears only when the game is over (the survivors). */
export type EnemyCell = "unknown" | "miss" | "hit" | "sunk" | "ship"
export type ShotResult = "miss" | "hit" | "sunk"

export interface SalvoView {
  phase: SalvoState["phase"]
  you: PlayerId
  opponent: PlayerId | null
  turn: PlayerId | null
  turnEndsAt: number | null
  winner: PlayerId | null
  size: number
  mine: OwnCell[]
  theirs: EnemyCell[]
  /** Ships still afloat on each side (a sinking is announced, so this is no secret). */
  afloat: { mine: number; theirs: number }
}

/** Places the fleet at random: each ship across or down, inside the grid, never overlapping another. */
export function placeFleet(rng: Rng): number[][] {
  const taken = new Set<number>()
  const ships: number[][] = []
  for (const length of FLEET) {
    for (;;) {
      const across = rng.chance(0.5)
      const row = rng.int(0, across ? SIZE - 1 : SIZE - length)
      const col = rng.int(0, across ? SIZE - length : SIZE - 1)
      const cells = Array.from({ length }, (_, i) => (across ? row * SIZE + col + i : (row + i) * SIZE + col))
      if (cells.some((c) => taken.has(c))) continue
      for (const c of cells) taken.add(c)
      ships.push(cells)
      break
    }
  }
  return ships
}

const isSunk = (board: Board, ship: number[]) => ship.every((c) => board.shots.includes(c))
const afloat = (board: Board | undefined) => (board ? board.ships.filter((s) => !isSunk(board, s)).length : FLEET.length)

const opponentOf = (s: SalvoState, player: PlayerId) => s.turns.order.find((p) => p !== player) ?? null

export default defineGame({
  name: "salvo",
  version: 1,
  players: { min: 2, max: 2 },
  state: State,
  setup: (): SalvoState => ({ phase: "waiting", turns: turns.create(), boards: {}, winner: null }),

  onJoin(ctx) {
    const s = ctx.state
    if (s.phase !== "waiting") ctx.reject("game_started", "this game has already started")
    s.turns.order.push(ctx.player)
    s.boards[ctx.player] = { ships: placeFleet(ctx.rng), shots: [] }
    ctx.emit("joined", { player: ctx.player })
    if (s.turns.order.length === 2) {
      s.phase = "playing"
      turns.pass(s.turns, ctx, CLOCK) // the first to sit fires first
      ctx.emit("start", { order: s.turns.order })
    }
  },

  onLeave(ctx) {
    const s = ctx.state
    if (s.phase === "waiting") {
      turns.remove(s.turns, ctx, ctx.player)
      delete s.boards[ctx.player]
      return
    }
    if (s.phase !== "playing") return
    // Leaving a game in progress concedes it.
    const winner = opponentOf(s, ctx.player)
    s.phase = "ended"
    s.winner = winner
    turns.stop(s.turns, ctx, CLOCK.timer)
    ctx.end({ winner, reason: "opponent_left" })
  },

  actions: {
    fire: {
      input: v.object({ cell: Cell }),
      apply(ctx): { result: ShotResult } {
        const { state: s, input, player } = ctx
        if (s.phase === "waiting") return ctx.reject("not_started", "waiting for a second player")
        if (s.phase === "ended") return ctx.reject("game_over", "the game is over")
        if (s.turns.current !== player) return ctx.reject("not_your_turn", `it is ${s.turns.current}'s turn`)
        const target = s.boards[opponentOf(s, player) ?? ""]
        if (!target) return ctx.reject("no_opponent", "there is no one to fire at")
        if (target.shots.includes(input.cell)) return ctx.reject("already_fired", `you already fired at cell ${input.cell}`)

        target.shots.push(input.cell)
        const ship = target.ships.find((cells) => cells.includes(input.cell))
        const result: ShotResult = !ship ? "miss" : isSunk(target, ship) ? "sunk" : "hit"
        ctx.emit("shot", { by: player, cell: input.cell, result })

        if (result === "miss") turns.pass(s.turns, ctx, CLOCK)
        else if (afloat(target) === 0) {
          s.phase = "ended"
          s.winner = player
          turns.stop(s.turns, ctx, CLOCK.timer)
          ctx.end({ winner: player, reason: "fleet_sunk" })
        } else turns.begin(s.turns, ctx, player, CLOCK) // a hit: fire again, with a fresh clock
        return { result }
      },
    },
  },

  timers: {
    turnOver: {
      payload: turnTimerSchema,
      apply(ctx) {
        const s = ctx.state
        // A clock of a turn that already passed (a shot came first) does nothing.
        if (s.phase !== "playing" || !turns.isCurrent(s.turns, ctx.payload)) return
        ctx.emit("timeout", { player: s.turns.current })
        turns.pass(s.turns, ctx, CLOCK)
      },
    },
  },

  view(s, player): SalvoView {
    const opponent = opponentOf(s, player)
    const own = s.boards[player]
    const enemy = opponent ? s.boards[opponent] : undefined
    const cells = Array.from({ length: SIZE * SIZE }, (_, i) => i)
    const mine = cells.map((c): OwnCell => {
      const ship = own?.ships.some((cells) => cells.includes(c)) ?? false
      const shot = own?.shots.includes(c) ?? false
      return shot ? (ship ? "hit" : "miss") : ship ? "ship" : "sea"
    })
    const theirs = cells.map((c): EnemyCell => {
      const ship = enemy?.ships.find((cells) => cells.includes(c))
      if (!enemy || !enemy.shots.includes(c)) return ship && s.phase === "ended" ? "ship" : "unknown"
      if (!ship) return "miss"
      return isSunk(enemy, ship) ? "sunk" : "hit"
    })
    return {
      phase: s.phase,
      you: player,
      opponent,
      turn: s.turns.current,
      turnEndsAt: s.turns.endsAt,
      winner: s.winner,
      size: SIZE,
      mine,
      theirs,
      afloat: { mine: afloat(own), theirs: afloat(enemy) },
    }
  },
})
