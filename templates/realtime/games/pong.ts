/**
 * Pong: a real-time game driven by fixed-step ticks.
 *
 * Two players, a paddle each. A player only says which way their paddle is
 * going (`move { dir: -1 | 0 | 1 }`, sent when a key goes down or up); the
 * server moves paddles and the ball 30 times a second and every player
 * receives the changes as deltas. The ball speeds up with every return and
 * leaves at an angle that depends on where it hit the paddle. First to
 * WIN_SCORE points wins.
 */
import { defineGame, type PlayerId, type Rng, type TimerControl, v } from "batonjs"

export const COURT = { w: 800, h: 500 }
export const TICK_HZ = 30
export const PADDLE = { h: 90, w: 12, inset: 24, speed: 420 }
export const BALL = { r: 8, speed: 330, maxSpeed: 900, speedUp: 1.06 }
/** How long the ball rests before a serve. */
export const SERVE_MS = 1_200
export const WIN_SCORE = 5

const round2 = (x: number) => Math.round(x * 100) / 100
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x))

const Paddle = v.object({
  player: v.string(),
  /** Centre of the paddle. */
  y: v.number(),
  dir: v.picklist([-1, 0, 1]),
  score: v.number(),
})

const State = v.object({
  phase: v.picklist(["waiting", "serving", "playing", "ended"]),
  left: v.nullable(Paddle),
  right: v.nullable(Paddle),
  ball: v.object({ x: v.number(), y: v.number(), vx: v.number(), vy: v.number() }),
  /** Returns in the current rally. */
  rally: v.number(),
  /** When the next serve happens, while serving. */
  serveAt: v.nullable(v.number()),
  winner: v.nullable(v.string()),
})

export type PongState = v.InferOutput<typeof State>
export type Side = "left" | "right"
type Paddle = v.InferOutput<typeof Paddle>

const centre = () => ({ x: COURT.w / 2, y: COURT.h / 2, vx: 0, vy: 0 })
/** The x of each paddle's face, where the ball bounces. */
export const FACE = { left: PADDLE.inset + PADDLE.w, right: COURT.w - PADDLE.inset - PADDLE.w }

export function sideOf(s: PongState, player: PlayerId): Side | null {
  return s.left?.player === player ? "left" : s.right?.player === player ? "right" : null
}

type Ctx = {
  state: PongState
  now: number
  timers: TimerControl<{ serve: { toward: Side } }>
}

/** The ball rests in the middle, then goes toward `toward`. */
function scheduleServe(ctx: Ctx, toward: Side): void {
  const s = ctx.state
  s.phase = "serving"
  s.ball = centre()
  s.rally = 0
  s.serveAt = ctx.now + SERVE_MS
  ctx.timers.after(SERVE_MS, "serve", { toward })
}

/** Sends the ball off at `speed`, at `angle` radians from the horizontal, toward a side. */
function launch(s: PongState, toward: Side, speed: number, angle: number): void {
  const sign = toward === "left" ? -1 : 1
  s.ball.vx = round2(sign * speed * Math.cos(angle))
  s.ball.vy = round2(speed * Math.sin(angle))
}

const randomAngle = (rng: Rng) => ((rng.next() * 2 - 1) * Math.PI) / 6 // within ±30°

export default defineGame({
  name: "pong",
  version: 1,
  players: { min: 2, max: 2 },
  state: State,
  setup: (): PongState => ({ phase: "waiting", left: null, right: null, ball: centre(), rally: 0, serveAt: null, winner: null }),

  onJoin(ctx) {
    const s = ctx.state
    if (s.phase !== "waiting") ctx.reject("game_started", "this game has already started")
    const paddle: Paddle = { player: ctx.player, y: COURT.h / 2, dir: 0, score: 0 }
    if (!s.left) s.left = paddle
    else s.right = paddle
    ctx.emit("joined", { player: ctx.player, side: s.right === paddle ? "right" : "left" })
    if (s.left && s.right) scheduleServe(ctx, ctx.rng.chance(0.5) ? "left" : "right")
  },

  onLeave(ctx) {
    const s = ctx.state
    const side = sideOf(s, ctx.player)
    if (!side) return
    if (s.phase === "waiting") {
      s[side] = null
      return
    }
    if (s.phase === "ended") return
    // Leaving a game in progress concedes it.
    const other = s[side === "left" ? "right" : "left"]
    s.phase = "ended"
    s.winner = other?.player ?? null
    s.ball = centre()
    s.serveAt = null
    ctx.end({ winner: s.winner, reason: "opponent_left", score: { left: s.left?.score ?? 0, right: s.right?.score ?? 0 } })
  },

  actions: {
    move: {
      input: v.object({ dir: v.picklist([-1, 0, 1]) }),
      apply({ state: s, input, player, reject }) {
        const side = sideOf(s, player)
        if (!side) return reject("not_playing", `${player} has no paddle here`)
        if (s.phase === "ended") return reject("game_over", "the game is over")
        ;(s[side] as Paddle).dir = input.dir
      },
    },
  },

  timers: {
    serve: {
      payload: v.object({ toward: v.picklist(["left", "right"]) }),
      apply({ state: s, payload, rng }) {
        if (s.phase !== "serving") return
        s.phase = "playing"
        s.serveAt = null
        launch(s, payload.toward, BALL.speed, randomAngle(rng))
      },
    },
  },

  tick: {
    hz: TICK_HZ,
    apply(ctx) {
      const { state: s, dt } = ctx
      if (s.phase === "waiting" || s.phase === "ended") return
      const half = PADDLE.h / 2
      for (const p of [s.left, s.right]) {
        if (!p || p.dir === 0) continue
        const y = round2(clamp(p.y + p.dir * PADDLE.speed * dt, half, COURT.h - half))
        if (y !== p.y) p.y = y
      }
      if (s.phase !== "playing") return

      const b = s.ball
      const r = BALL.r
      const px = b.x
      b.x = round2(b.x + b.vx * dt)
      b.y = round2(b.y + b.vy * dt)
      // Walls: reflect.
      if (b.y < r) {
        b.y = round2(2 * r - b.y)
        b.vy = Math.abs(b.vy)
      } else if (b.y > COURT.h - r) {
        b.y = round2(2 * (COURT.h - r) - b.y)
        b.vy = -Math.abs(b.vy)
      }
      // Paddles: the ball's edge crossed a paddle's face during this tick.
      for (const side of ["left", "right"] as const) {
        const p = s[side]
        if (!p) continue
        const crossed = side === "left" ? b.vx < 0 && px - r >= FACE.left && b.x - r < FACE.left : b.vx > 0 && px + r <= FACE.right && b.x + r > FACE.right
        if (!crossed || Math.abs(b.y - p.y) > half + r) continue
        const speed = Math.min(BALL.maxSpeed, Math.hypot(b.vx, b.vy) * BALL.speedUp)
        const offset = clamp((b.y - p.y) / half, -1, 1)
        b.x = side === "left" ? FACE.left + r : FACE.right - r
        launch(s, side === "left" ? "right" : "left", speed, (offset * Math.PI) / 3) // up to ±60°
        s.rally++
        ctx.emit("hit", { player: p.player, rally: s.rally })
      }
      // Out: the other side scores.
      const out: Side | null = b.x < -r ? "left" : b.x > COURT.w + r ? "right" : null
      if (!out) return
      const scorer = s[out === "left" ? "right" : "left"]
      if (!scorer) return
      scorer.score++
      ctx.emit("point", { player: scorer.player, score: { left: s.left?.score ?? 0, right: s.right?.score ?? 0 } })
      if (scorer.score >= WIN_SCORE) {
        s.phase = "ended"
        s.winner = scorer.player
        s.ball = centre()
        for (const p of [s.left, s.right]) if (p) p.dir = 0
        ctx.end({ winner: scorer.player, score: { left: s.left?.score ?? 0, right: s.right?.score ?? 0 } })
        return
      }
      scheduleServe(ctx, out) // toward the side that lost the point
    },
  },
})
