import { describe, expect, test } from "bun:test"
import { defineGame, Session, turns, turnsSchema, turnTimerSchema, v } from "batonjs"

/** A three-player passing game on the helper: whoever holds the turn may pass it; the clock passes it after 10 s. */
const TURN_MS = 10_000
const clock = { ms: TURN_MS, timer: "turnOver" as const }
const relay = defineGame({
  name: "relay",
  version: 1,
  players: { min: 2, max: 3 },
  state: v.object({ turns: turnsSchema, passes: v.number(), timeouts: v.number() }),
  setup: () => ({ turns: turns.create(), passes: 0, timeouts: 0 }),
  onJoin(ctx) {
    ctx.state.turns.order.push(ctx.player)
    if (ctx.state.turns.order.length === 3) turns.pass(ctx.state.turns, ctx, clock)
  },
  onLeave(ctx) {
    turns.remove(ctx.state.turns, ctx, ctx.player, clock)
  },
  actions: {
    pass: {
      input: v.optional(v.object({})),
      apply(ctx) {
        if (ctx.state.turns.current !== ctx.player) return ctx.reject("not_your_turn", `it is ${ctx.state.turns.current}'s turn`)
        ctx.state.passes++
        turns.pass(ctx.state.turns, ctx, clock)
        return { next: ctx.state.turns.current }
      },
    },
  },
  timers: {
    turnOver: {
      payload: turnTimerSchema,
      apply(ctx) {
        if (!turns.isCurrent(ctx.state.turns, ctx.payload)) return // a clock of a turn that already passed
        ctx.state.timeouts++
        turns.pass(ctx.state.turns, ctx, clock)
      },
    },
  },
})

function table() {
  const s = Session.create(relay, { id: "r1", now: 0, seed: "s" })
  for (const p of ["ada", "bob", "cy"]) expect(s.join(p, 0)).toMatchObject({ ok: true })
  return s
}
let id = 0
const pass = (s: Session<typeof relay>, player: string, now: number) => s.act({ player, client: player, id: ++id, name: "pass", input: undefined, now })

describe("turns: the turn-order and turn-clock helper", () => {
  test("turns go round in join order, each with its clock; a pass restarts the clock", () => {
    const s = table()
    expect(s.record.state.turns).toEqual({ order: ["ada", "bob", "cy"], current: "ada", number: 1, endsAt: TURN_MS })
    expect(pass(s, "bob", 1_000)).toMatchObject({ ok: false, code: "not_your_turn" })
    expect(pass(s, "ada", 2_000)).toMatchObject({ ok: true, value: { next: "bob" } })
    expect(s.record.state.turns).toMatchObject({ current: "bob", number: 2, endsAt: 2_000 + TURN_MS })
    pass(s, "bob", 3_000)
    pass(s, "cy", 4_000)
    expect(s.record.state.turns.current).toBe("ada") // wrapped around
  })

  test("the clock passes a turn nobody played; a late timer of a past turn does nothing", () => {
    const s = table()
    s.advance(TURN_MS) // ada let it run out
    expect(s.record.state).toMatchObject({ timeouts: 1, turns: { current: "bob", number: 2, endsAt: 2 * TURN_MS } })
    pass(s, "bob", TURN_MS + 500)
    // bob's clock was cancelled when he passed: only cy's runs.
    s.advance(2 * TURN_MS)
    expect(s.record.state).toMatchObject({ timeouts: 1, turns: { current: "cy" } })
    s.advance(TURN_MS + 500 + TURN_MS)
    expect(s.record.state).toMatchObject({ timeouts: 2, turns: { current: "ada" } })
    expect(turns.isCurrent(s.record.state.turns, { turn: 1 })).toBe(false)
    expect(turns.isCurrent(s.record.state.turns, { turn: s.record.state.turns.number })).toBe(true)
    expect(turns.isCurrent(s.record.state.turns, "junk")).toBe(false)
  })

  test("a player who leaves on their turn passes it on; the last one left has nobody to pass to", () => {
    const s = table()
    s.leave("ada", 1_000)
    expect(s.record.state.turns).toMatchObject({ order: ["bob", "cy"], current: "bob" })
    s.leave("cy", 2_000) // not his turn: the order shrinks, bob keeps it
    expect(s.record.state.turns).toMatchObject({ order: ["bob"], current: "bob" })
    s.leave("bob", 3_000)
    expect(s.record.state.turns).toMatchObject({ order: [], current: null, endsAt: null })
    s.advance(10 * TURN_MS) // no clock left running
    expect(s.record.state.timeouts).toBe(0)
  })

  test("after, hold, stop and create", () => {
    const t = turns.create(["a", "b"])
    expect(turns.after(t, "a")).toBe("b")
    expect(turns.after(t, "b")).toBe("a")
    expect(turns.after(turns.create(), "a")).toBeNull()
    const cancelled: string[] = []
    const ctx = (now: number) => ({ now, timers: { after: () => 1, cancelAll: (n: "turnOver") => (cancelled.push(n), 0) } })
    turns.begin(t, ctx(5), "a", clock)
    expect(t).toEqual({ order: ["a", "b"], current: "a", number: 1, endsAt: 5 + TURN_MS })
    turns.hold(t, ctx(6), "turnOver") // the clock stops, the turn stays
    expect(t).toEqual({ order: ["a", "b"], current: "a", number: 1, endsAt: null })
    turns.stop(t, ctx(7), "turnOver")
    expect(t).toEqual({ order: ["a", "b"], current: null, number: 1, endsAt: null })
    expect(cancelled).toEqual(["turnOver", "turnOver", "turnOver"])
  })
})
