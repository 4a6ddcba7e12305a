/**
 * The duel the lobby starts: rock, paper, scissors, first to two rounds.
 *
 * Only the two players the lobby matched may sit (`options.players`, checked
 * in `onJoin`). Each round both choose in secret: `view` shows you your own
 * hand and only *whether* the other has chosen, until both have and the
 * round is revealed. Timers keep it moving: a player who does not show up,
 * or does not choose in time, loses.
 */
import { defineGame, type PlayerId, safeId, type TimerControl, v } from "batonjs"

export const WINS = 2
/** How long a player has to choose. */
export const ROUND_MS = 15_000
/** How long the first player waits for the second to arrive. */
export const NO_SHOW_MS = 30_000

const Hand = v.picklist(["rock", "paper", "scissors"])
export type Hand = v.InferOutput<typeof Hand>
const BEATS: Record<Hand, Hand> = { rock: "scissors", paper: "rock", scissors: "paper" }

const State = v.object({
  /** The two players the lobby matched. */
  players: v.array(v.string()),
  phase: v.picklist(["waiting", "choosing", "ended"]),
  round: v.number(),
  /** This round's hands: secret until both have chosen. */
  hands: v.record(v.string(), Hand),
  scores: v.record(v.string(), v.number()),
  history: v.array(v.object({ hands: v.record(v.string(), Hand), winner: v.nullable(v.string()) })),
  deadline: v.nullable(v.number()),
  winner: v.nullable(v.string()),
})

export type DuelState = v.InferOutput<typeof State>

export interface DuelView {
  you: PlayerId
  opponent: PlayerId
  phase: DuelState["phase"]
  round: number
  scores: Record<PlayerId, number>
  /** Your hand this round, once chosen. */
  hand: Hand | null
  /** Whether the opponent has chosen this round (not what). */
  opponentChose: boolean
  history: DuelState["history"]
  deadline: number | null
  winner: PlayerId | null
}

type Ctx = {
  state: DuelState
  now: number
  timers: TimerControl<{ roundOver: { round: number } }>
  end(result?: unknown): void
}

function nextRound(ctx: Ctx): void {
  const s = ctx.state
  s.phase = "choosing"
  s.round++
  s.hands = {}
  s.deadline = ctx.now + ROUND_MS
  ctx.timers.cancelAll("roundOver")
  ctx.timers.after(ROUND_MS, "roundOver", { round: s.round })
}

function finish(ctx: Ctx, winner: PlayerId | null, reason: "won" | "no_show" | "timeout" | "opponent_left" | "abandoned"): void {
  const s = ctx.state
  s.phase = "ended"
  s.winner = winner
  s.deadline = null
  ctx.end({ winner, reason, scores: { ...s.scores } })
}

export default defineGame({
  name: "duel",
  version: 1,
  players: { min: 2, max: 2 },
  // Player ids become keys of the state (hands, scores): safeId refuses the ones that name inherited properties.
  options: v.object({ players: v.pipe(v.array(safeId), v.length(2)) }),
  state: State,
  setup({ options }): DuelState {
    const { players } = options as { players: string[] }
    return {
      players: [...players],
      phase: "waiting",
      round: 0,
      hands: {},
      scores: Object.fromEntries(players.map((p) => [p, 0])),
      history: [],
      deadline: null,
      winner: null,
    }
  },

  onJoin(ctx) {
    const s = ctx.state
    if (!s.players.includes(ctx.player)) ctx.reject("not_your_match", `this duel is between ${s.players.join(" and ")}`)
    if (s.phase !== "waiting") return
    if (ctx.players.length < s.players.length) {
      // The first to arrive waits for the other, not for ever.
      s.deadline = ctx.now + NO_SHOW_MS
      ctx.timers.after(NO_SHOW_MS, "noShow")
      return
    }
    ctx.timers.cancelAll("noShow")
    nextRound(ctx)
    ctx.emit("start", { players: s.players })
  },

  onLeave(ctx) {
    const s = ctx.state
    if (s.phase !== "choosing") return
    finish(ctx, s.players.find((p) => p !== ctx.player) ?? null, "opponent_left")
  },

  actions: {
    choose: {
      input: v.object({ hand: Hand }),
      apply(ctx) {
        const { state: s, input, player } = ctx
        if (s.phase === "waiting") return ctx.reject("not_started", "waiting for your opponent")
        if (s.phase === "ended") return ctx.reject("game_over", "the duel is over")
        if (s.hands[player]) return ctx.reject("already_chose", `you already chose ${s.hands[player]}`)
        s.hands[player] = input.hand
        ctx.emit("chose", { player })
        const [a, b] = s.players as [string, string]
        const ha = s.hands[a]
        const hb = s.hands[b]
        if (!ha || !hb) return
        // Both have chosen: reveal the round.
        const winner = ha === hb ? null : BEATS[ha] === hb ? a : b
        s.history.push({ hands: { [a]: ha, [b]: hb }, winner })
        if (winner) s.scores[winner] = (s.scores[winner] ?? 0) + 1
        ctx.emit("round", { round: s.round, hands: { [a]: ha, [b]: hb }, winner })
        if (winner && (s.scores[winner] ?? 0) >= WINS) {
          ctx.timers.cancelAll("roundOver")
          return finish(ctx, winner, "won")
        }
        nextRound(ctx)
      },
    },
  },

  timers: {
    noShow(ctx) {
      if (ctx.state.phase !== "waiting") return
      finish(ctx, ctx.players[0] ?? null, "no_show")
    },
    /** The round's clock ran out (one of a round already revealed does nothing). */
    roundOver: {
      payload: v.object({ round: v.number() }),
      apply(ctx) {
        const s = ctx.state
        if (s.phase !== "choosing" || ctx.payload.round !== s.round) return
        // Whoever chose in time wins the duel; if neither did, it is abandoned.
        const chose = s.players.filter((p) => s.hands[p])
        finish(ctx, chose.length === 1 ? (chose[0] as string) : null, chose.length === 1 ? "timeout" : "abandoned")
      },
    },
  },

  view(s, player): DuelView {
    return {
      you: player,
      opponent: s.players.find((p) => p !== player) ?? "",
      phase: s.phase,
      round: s.round,
      scores: s.scores,
      hand: s.hands[player] ?? null,
      opponentChose: s.players.some((p) => p !== player && s.hands[p] !== undefined),
      history: s.history,
      deadline: s.deadline,
      winner: s.winner,
    }
  },
})
