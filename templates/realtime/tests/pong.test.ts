/**
 * The game on the pure session runtime: `advance(now)` runs the ticks and
 * timers due by then, so physics is tested by moving the clock. A state can
 * be set up exactly with `Session.resume` (the way a node loads a stored one).
 */
import { describe, expect, test } from "bun:test"
import { Session } from "batonjs"
import pong, { BALL, COURT, FACE, PADDLE, type PongState, SERVE_MS, TICK_HZ, WIN_SCORE } from "../games/pong.ts"

const T0 = 1_700_000_000_000
const TICK = 1000 / TICK_HZ
let actionId = 1

function game(seed = "seed-1"): Session<typeof pong> {
  const s = Session.create(pong, { id: `pong-${seed}`, now: T0, seed })
  expect(s.join("ada", T0)).toMatchObject({ ok: true })
  expect(s.join("bob", T0)).toMatchObject({ ok: true })
  return s
}
const stateOf = (s: Session<typeof pong>) => s.record.state as PongState
const move = (s: Session<typeof pong>, player: string, dir: number, now: number) =>
  s.act({ player, client: `c-${player}`, id: actionId++, name: "move", input: { dir }, now })

/**
 * Moves the clock to `to` a tick at a time, as a node does. (One big jump
 * runs at most 5 ticks and skips the rest: a session that fell behind, after
 * a move or a stall, catches up a little and then skips ahead.)
 */
function run(s: Session<typeof pong>, from: number, to: number): void {
  for (let t = from; t < to; t += TICK) s.advance(t)
  s.advance(to)
}

/** The same session with its state changed by `edit` (a test's way to set up a rally). */
function withState(s: Session<typeof pong>, edit: (state: PongState) => void): Session<typeof pong> {
  const state = structuredClone(stateOf(s))
  edit(state)
  return Session.resume(pong, { ...structuredClone(s.record), state })
}

describe("pong: a game", () => {
  test("two players take the two sides; a third is refused", () => {
    const s = game()
    expect(stateOf(s).left?.player).toBe("ada")
    expect(stateOf(s).right?.player).toBe("bob")
    expect(s.join("cy", T0)).toMatchObject({ ok: false })
  })

  test("the ball rests, then is served at its starting speed", () => {
    const s = game()
    expect(stateOf(s).phase).toBe("serving")
    s.advance(T0 + SERVE_MS - 1)
    expect(stateOf(s).ball).toMatchObject({ x: COURT.w / 2, vx: 0 })
    s.advance(T0 + SERVE_MS + 200)
    const b = stateOf(s).ball
    expect(stateOf(s).phase).toBe("playing")
    expect(Math.hypot(b.vx, b.vy)).toBeCloseTo(BALL.speed, 0)
    expect(b.x).not.toBe(COURT.w / 2)
  })

  test("a paddle moves while its key is down, and stops at the wall", () => {
    const s = game()
    expect(move(s, "ada", -1, T0)).toEqual({ ok: true })
    s.advance(T0 + 200)
    const y = stateOf(s).left?.y as number
    expect(y).toBeLessThan(COURT.h / 2)
    // A whole number of ticks, each moving it speed / hz.
    const ticks = (COURT.h / 2 - y) / (PADDLE.speed / TICK_HZ)
    expect(ticks).toBeCloseTo(Math.round(ticks), 5)
    expect(Math.round(ticks)).toBeGreaterThanOrEqual(Math.floor(200 / TICK) - 1)
    run(s, T0 + 200, T0 + 2_000)
    expect(stateOf(s).left?.y).toBe(PADDLE.h / 2)
    move(s, "ada", 0, T0 + 2_000)
    run(s, T0 + 2_000, T0 + 2_500)
    expect(stateOf(s).left?.y).toBe(PADDLE.h / 2)
  })

  test("moves are validated", () => {
    const s = game()
    expect(move(s, "ada", 2, T0)).toMatchObject({ ok: false, code: "invalid_input" })
    expect(move(s, "cy", 1, T0)).toMatchObject({ ok: false, code: "not_seated" })
  })
})

describe("pong: the ball", () => {
  test("it bounces off the top wall", () => {
    const s = withState(game(), (st) => {
      st.phase = "playing"
      st.ball = { x: 400, y: BALL.r + 2, vx: 0, vy: -300 }
    })
    s.advance(T0 + 2 * TICK)
    expect(stateOf(s).ball.vy).toBeGreaterThan(0)
    expect(stateOf(s).ball.y).toBeGreaterThanOrEqual(BALL.r)
  })

  test("a paddle returns it, faster, at an angle that depends on where it hit", () => {
    const s = withState(game(), (st) => {
      st.phase = "playing"
      st.ball = { x: FACE.left + BALL.r + 5, y: COURT.h / 2 + 30, vx: -300, vy: 0 }
    })
    s.advance(T0 + 2 * TICK)
    const b = stateOf(s).ball
    expect(b.vx).toBeGreaterThan(0)
    expect(b.vy).toBeGreaterThan(0) // hit below the centre: goes down
    expect(Math.hypot(b.vx, b.vy)).toBeCloseTo(300 * BALL.speedUp, 0)
    expect(stateOf(s).rally).toBe(1)
    expect(s.takeEvents().some((e) => e.event === "hit")).toBe(true)
  })

  test("a ball that passes a paddle is a point for the other side, then a new serve", () => {
    const s = withState(game(), (st) => {
      st.phase = "playing"
      st.ball = { x: FACE.left + 20, y: 20, vx: -600, vy: 0 } // far above ada's paddle
    })
    run(s, T0, T0 + 20 * TICK)
    expect(stateOf(s).right?.score).toBe(1)
    expect(stateOf(s).phase).toBe("serving")
    expect(stateOf(s).ball).toMatchObject({ x: COURT.w / 2, vx: 0 })
  })

  test(`the first to ${WIN_SCORE} wins`, () => {
    const s = withState(game(), (st) => {
      st.phase = "playing"
      if (st.right) st.right.score = WIN_SCORE - 1
      st.ball = { x: FACE.left + 20, y: 20, vx: -600, vy: 0 }
    })
    run(s, T0, T0 + 20 * TICK)
    expect(s.ended).toBe(true)
    expect(s.record.result).toEqual({ winner: "bob", score: { left: 0, right: WIN_SCORE } })
  })

  test("leaving a game in progress concedes it", () => {
    const s = game()
    s.leave("bob", T0 + 10)
    expect(s.record.result).toMatchObject({ winner: "ada", reason: "opponent_left" })
  })
})
