import { describe, expect, test } from "bun:test"
import { Session } from "batonjs"
import orbs, { ARENA, ORB_RADIUS, type OrbsState, PLAYER_RADIUS, ROUND_MS, SPEED, TICK_HZ } from "../../app/games/orbs.ts"

const T0 = 1_700_000_000_000
const TICK_MS = 1000 / TICK_HZ
let nextId = 1

function arena(players: string[] = ["ada"], seed = "orbs-seed-1"): Session<typeof orbs> {
  const s = Session.create(orbs, { id: `o-${seed}`, now: T0, seed })
  for (const p of players) expect(s.join(p, T0)).toMatchObject({ ok: true })
  return s
}

const stateOf = (s: Session<typeof orbs>) => s.record.state as OrbsState
const steer = (s: Session<typeof orbs>, player: string, dx: number, dy: number, now = T0) =>
  s.act({ player, client: `client-${player}`, id: nextId++, name: "steer", input: { dx, dy }, now })

/** Advances tick by tick (the runtime replays at most a few ticks per call). */
function run(s: Session<typeof orbs>, from: number, ms: number, each?: (now: number) => void): number {
  let now = from
  for (const end = from + ms; now < end && !s.ended; ) {
    now += TICK_MS
    s.advance(now)
    each?.(now)
  }
  return now
}

const hasTwoDecimalsAtMost = (x: number) => Math.abs(x * 100 - Math.round(x * 100)) < 1e-6

describe("orbs: setup and joining", () => {
  test("orbs are spawned inside the arena; the first join starts the round", () => {
    const s = arena([])
    const st = stateOf(s)
    expect(st.phase).toBe("waiting")
    expect(st.orbs.length).toBeGreaterThan(0)
    for (const o of st.orbs) {
      expect(o.x).toBeGreaterThanOrEqual(ORB_RADIUS)
      expect(o.x).toBeLessThanOrEqual(ARENA.w - ORB_RADIUS)
      expect(o.y).toBeGreaterThanOrEqual(ORB_RADIUS)
      expect(o.y).toBeLessThanOrEqual(ARENA.h - ORB_RADIUS)
    }
    expect(stateOf(arena([], "orbs-seed-2")).orbs).not.toEqual(st.orbs)

    expect(s.join("ada", T0 + 5)).toMatchObject({ ok: true })
    expect(stateOf(s)).toMatchObject({ phase: "playing", endsAt: T0 + 5 + ROUND_MS })
    expect(stateOf(s).players.ada).toMatchObject({ dx: 0, dy: 0, score: 0, color: 0 })
    expect(s.join("bob", T0 + 6)).toMatchObject({ ok: true })
    expect(stateOf(s).players.bob?.color).toBe(1)
    expect(s.record.timers.filter((t) => t.name === "roundOver")).toHaveLength(1)
  })

  test("a player who leaves disappears from the arena", () => {
    const s = arena(["ada", "bob"])
    s.leave("ada", T0 + 1)
    expect(Object.keys(stateOf(s).players)).toEqual(["bob"])
  })
})

describe("orbs: steering and ticks", () => {
  test("steer is validated and normalized", () => {
    const s = arena()
    expect(steer(s, "ada", 2, 0)).toMatchObject({ ok: false, code: "invalid_input" })
    expect(steer(s, "ada", Number.NaN, 0)).toMatchObject({ ok: false, code: "invalid_input" })
    expect(s.act({ player: "ada", client: "c", id: nextId++, name: "steer", input: { dx: 1 }, now: T0 })).toMatchObject({
      ok: false,
      code: "invalid_input",
    })
    expect(steer(s, "ada", 1, 1)).toEqual({ ok: true })
    expect(stateOf(s).players.ada).toMatchObject({ dx: 0.71, dy: 0.71 })
    expect(steer(s, "ada", 0.3, -0.4)).toEqual({ ok: true })
    expect(stateOf(s).players.ada).toMatchObject({ dx: 0.3, dy: -0.4 })
  })

  test("ticks move a steering player at SPEED and leave the others alone", () => {
    const s = arena(["ada", "bob"])
    const ada0 = { ...stateOf(s).players.ada! }
    const bob0 = { ...stateOf(s).players.bob! }
    const dx = ada0.x < ARENA.w / 2 ? 1 : -1
    steer(s, "ada", dx, 0)
    run(s, T0, 1000)
    const ada1 = stateOf(s).players.ada!
    expect(ada1.x).toBeCloseTo(ada0.x + dx * SPEED, 6)
    expect(ada1.y).toBe(ada0.y)
    expect(stateOf(s).players.bob).toMatchObject({ x: bob0.x, y: bob0.y })
    expect(s.record.tickAt).toBe(T0 + 1000)
  })

  test("positions stay inside the walls and are rounded to 0.01", () => {
    const s = arena()
    steer(s, "ada", -0.6, 0.8)
    run(s, T0, 500, () => {
      const p = stateOf(s).players.ada!
      expect(hasTwoDecimalsAtMost(p.x) && hasTwoDecimalsAtMost(p.y)).toBe(true)
    })
    run(s, T0 + 500, 8000)
    expect(stateOf(s).players.ada).toMatchObject({ x: PLAYER_RADIUS, y: ARENA.h - PLAYER_RADIUS })
  })

  test("touching an orb scores it; the arena refills", () => {
    const s = arena()
    let now = T0
    let collected = 0
    // A bot that steers at the nearest orb.
    for (let i = 0; i < 400 && collected < 3; i++) {
      const st = stateOf(s)
      const me = st.players.ada!
      const target = [...st.orbs].sort((a, b) => Math.hypot(a.x - me.x, a.y - me.y) - Math.hypot(b.x - me.x, b.y - me.y))[0]!
      const d = Math.hypot(target.x - me.x, target.y - me.y)
      steer(s, "ada", Math.round(((target.x - me.x) / d) * 100) / 100, Math.round(((target.y - me.y) / d) * 100) / 100, now)
      const before = st.orbs.map((o) => o.id)
      now = run(s, now, TICK_MS)
      const events = s.takeEvents().filter((e) => e.event === "collect")
      for (const e of events) {
        collected++
        const { orb, score } = e.data as { orb: number; score: number }
        expect(before).toContain(orb)
        expect(stateOf(s).orbs.map((o) => o.id)).not.toContain(orb)
        expect(score).toBe(collected)
      }
    }
    expect(collected).toBe(3)
    expect(stateOf(s).players.ada?.score).toBe(3)
    // Refill: after a while the arena holds its full count again, with new ids.
    now = run(s, now, 10_000)
    expect(stateOf(s).orbs).toHaveLength(5)
    expect(Math.max(...stateOf(s).orbs.map((o) => o.id))).toBeGreaterThan(5)
  })
})

describe("orbs: the round", () => {
  test("ends after ROUND_MS with the best scorer as winner", () => {
    const s = arena(["ada", "bob"])
    // Bob stands still; ada chases orbs.
    run(s, T0, ROUND_MS - TICK_MS, (now) => {
      const st = stateOf(s)
      const me = st.players.ada!
      const o = st.orbs[0]
      if (!o) return
      const d = Math.hypot(o.x - me.x, o.y - me.y) || 1
      steer(s, "ada", Math.round(((o.x - me.x) / d) * 100) / 100, Math.round(((o.y - me.y) / d) * 100) / 100, now)
    })
    expect(s.ended).toBe(false)
    const score = stateOf(s).players.ada!.score
    expect(score).toBeGreaterThan(5)
    s.advance(T0 + ROUND_MS)
    expect(s.ended).toBe(true)
    expect(s.record.result).toEqual({ winners: ["ada"], scores: { ada: score, bob: 0 } })
    expect(stateOf(s)).toMatchObject({ phase: "ended", winners: ["ada"], endsAt: null })
    expect(steer(s, "ada", 1, 0, T0 + ROUND_MS + 1)).toMatchObject({ ok: false, code: "session_ended" })
  })

  test("the same seed and inputs replay the same round", () => {
    const play = () => {
      const s = arena(["ada", "bob"], "replay")
      steer(s, "ada", 1, 0.5)
      steer(s, "bob", -0.5, -1)
      run(s, T0, 3000)
      return stateOf(s)
    }
    expect(play()).toEqual(play())
  })
})
