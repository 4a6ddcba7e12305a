import { describe, expect, test } from "bun:test"
import { defineGame, Session, type SessionRecord, v } from "batonjs"

const T0 = 1_700_000_000_000

/** Catch-up cap of framework/game/session.ts (MAX_CATCHUP_TICKS). */
const MAX_CATCHUP = 5

function realtime(hz: number, opts: { endAfter?: number; throwAt?: number } = {}) {
  // throwAt: the tick at T0 + throwAt ms throws.
  return defineGame({
    name: "realtime",
    version: 1,
    players: { min: 1, max: 4 },
    state: v.object({ ticks: v.number(), elapsed: v.number(), log: v.array(v.tuple([v.string(), v.number()])), dts: v.array(v.number()) }),
    setup: () => ({ ticks: 0, elapsed: 0, log: [], dts: [] }),
    actions: {
      alarm: {
        input: v.object({ at: v.number() }),
        apply({ timers, input }) {
          timers.at(input.at, "alarm")
        },
      },
    },
    tick: {
      hz,
      apply({ state, dt, now, end, timers }) {
        state.ticks++
        if (now - T0 === opts.throwAt) throw new Error("tick exploded")
        state.elapsed += dt
        if (!state.dts.includes(dt)) state.dts.push(dt)
        state.log.push(["tick", now - T0])
        if (state.ticks === 2 && opts.endAfter === undefined && opts.throwAt === undefined) timers.after(0, "alarm")
        if (state.ticks === opts.endAfter) end({ ticks: state.ticks })
      },
    },
    timers: {
      alarm({ state, now }) {
        state.log.push(["alarm", now - T0])
      },
    },
  })
}

function start(hz: number, opts?: { endAfter?: number; throwAt?: number }) {
  const s = Session.create(realtime(hz, opts), { id: "rt", now: T0 })
  s.join("p1", T0)
  return s
}

describe("ticks", () => {
  test("run at fixed steps of 1/hz, driven by advance(now)", () => {
    const s = start(10)
    expect(s.record.tickAt).toBe(T0)
    expect(s.nextWakeAt()).toBe(T0 + 100)
    s.advance(T0 + 99)
    expect(s.record.state.ticks).toBe(0)
    s.advance(T0 + 100)
    expect(s.record.state.ticks).toBe(1)
    s.advance(T0 + 350)
    expect(s.record.state.ticks).toBe(3)
    expect(s.record.tickAt).toBe(T0 + 300)
    expect(s.nextWakeAt()).toBe(T0 + 400)
    expect(s.record.state.dts).toEqual([0.1])
    expect(s.record.state.elapsed).toBeCloseTo(0.3, 10)
    expect(s.record.state.log.filter(([k]) => k === "tick")).toEqual([
      ["tick", 100],
      ["tick", 200],
      ["tick", 300],
    ])
  })

  test("a game without ticks has tickAt null and never ticks", () => {
    const plain = defineGame({
      name: "still",
      version: 1,
      players: { min: 1, max: 1 },
      state: v.object({}),
      setup: () => ({}),
      actions: {},
    })
    const s = Session.create(plain, { id: "s", now: T0 })
    expect(s.record.tickAt).toBeNull()
    expect(s.nextWakeAt()).toBeNull()
    const before = s.record
    s.advance(T0 + 60_000)
    expect(s.record).toBe(before)
  })

  test("stepping at 60 hz over one second gives 60 ticks of dt 1/60", () => {
    const s = start(60)
    for (let t = 1; t <= 999; t++) s.advance(T0 + t)
    expect(s.record.state.ticks).toBe(59)
    // The 60th tick is due at 1000 ms, give or take float rounding of 1000 / 60 steps.
    s.advance(T0 + 1001)
    expect(s.record.state.ticks).toBe(60)
    expect(Math.abs((s.record.tickAt ?? 0) - (T0 + 1000))).toBeLessThan(0.01)
    expect(s.record.state.dts).toEqual([1 / 60])
    expect(s.record.state.elapsed).toBeCloseTo(1, 9)
  })

  test("catch-up is capped: a session far behind skips ahead instead of replaying", () => {
    const s = start(20)
    s.advance(T0 + 60_000) // 1200 ticks owed
    expect(s.record.state.ticks).toBe(MAX_CATCHUP)
    expect(s.record.tickAt).toBe(T0 + 60_000)
    const ticks = s.record.state.log.filter(([k]) => k === "tick").map(([, t]) => t)
    expect(ticks).toEqual([59_800, 59_850, 59_900, 59_950, 60_000])
    // Back on schedule afterwards.
    s.advance(T0 + 60_049)
    expect(s.record.state.ticks).toBe(MAX_CATCHUP)
    s.advance(T0 + 60_050)
    expect(s.record.state.ticks).toBe(MAX_CATCHUP + 1)
  })

  test("a small lag is replayed in full", () => {
    const s = start(20)
    s.advance(T0 + 50 * MAX_CATCHUP + 10)
    expect(s.record.state.ticks).toBe(MAX_CATCHUP)
    expect(s.record.tickAt).toBe(T0 + 50 * MAX_CATCHUP)
  })

  test("ticks stop after end()", () => {
    const s = start(10, { endAfter: 3 })
    s.advance(T0 + 10_000)
    expect(s.record.state.ticks).toBe(3)
    expect(s.record).toMatchObject({ status: "ended", result: { ticks: 3 } })
    expect(s.nextWakeAt()).toBeNull()
    const r = s.record
    s.advance(T0 + 20_000)
    expect(s.record).toBe(r)
  })

  test("ticks stop after an outside end", () => {
    const s = start(10)
    s.advance(T0 + 100)
    s.end("stopped", T0 + 150)
    const r = s.record
    s.advance(T0 + 1000)
    expect(s.record).toBe(r)
    expect(r.state.ticks).toBe(1)
  })

  test("a tick that throws is reported, changes nothing, and ticking goes on", () => {
    const s = start(10, { throwAt: 200 })
    s.advance(T0 + 100)
    const state = s.record.state
    s.advance(T0 + 200)
    expect(s.record.state).toBe(state)
    expect(s.record.tickAt).toBe(T0 + 200)
    const faults = s.takeFaults()
    expect(faults).toHaveLength(1)
    expect(faults[0]?.where).toBe("tick")
    expect(String(faults[0]?.error)).toContain("tick exploded")
    s.advance(T0 + 300)
    expect(s.record.state.ticks).toBe(2) // the failed tick's increment was rolled back
    expect(s.record.state.log).toEqual([
      ["tick", 100],
      ["tick", 300],
    ])
  })

  test("timers and ticks run in time order within one advance", () => {
    const s = start(10)
    s.act({ player: "p1", client: "c", id: 1, name: "alarm", input: { at: T0 + 150 }, now: T0 })
    s.act({ player: "p1", client: "c", id: 2, name: "alarm", input: { at: T0 + 300 }, now: T0 })
    s.advance(T0 + 320)
    // The second tick schedules an alarm for its own time (after 0 ms): it runs before the third tick.
    expect(s.record.state.log).toEqual([
      ["tick", 100],
      ["alarm", 150],
      ["tick", 200],
      ["alarm", 200],
      ["alarm", 300],
      ["tick", 300],
    ])
  })

  test("ticks continue on schedule after a move", () => {
    const original = start(10)
    original.advance(T0 + 250)
    const moved = Session.resume(original.game, JSON.parse(JSON.stringify(original.record)) as SessionRecord)
    expect(moved.nextWakeAt()).toBe(T0 + 300)
    for (const s of [original, moved]) s.advance(T0 + 520)
    expect(moved.record).toEqual(original.record)
    expect(moved.record.state.ticks).toBe(5)
  })
})
