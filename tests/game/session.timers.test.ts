import { describe, expect, test } from "bun:test"
import { defineGame, Session, type SessionRecord, v } from "batonjs"

const T0 = 1_700_000_000_000

const alarms = defineGame({
  name: "alarms",
  version: 1,
  players: { min: 1, max: 2 },
  state: v.object({ fired: v.array(v.object({ name: v.string(), at: v.number(), payload: v.unknown() })), ids: v.array(v.number()) }),
  setup: () => ({ fired: [], ids: [] }),
  actions: {
    after: {
      input: v.object({ ms: v.number(), name: v.picklist(["ring", "boom", "chain", "finish", "draw", "forever"]), payload: v.optional(v.unknown()) }),
      apply({ state, input, timers }) {
        const id = timers.after(input.ms, input.name, input.payload)
        state.ids.push(id)
        return id
      },
    },
    at: {
      input: v.object({ time: v.number(), payload: v.optional(v.unknown()) }),
      apply({ timers, input }) {
        return timers.at(input.time, "ring", input.payload)
      },
    },
    cancel: {
      input: v.object({ id: v.number() }),
      apply({ timers, input }) {
        return timers.cancel(input.id)
      },
    },
    cancelAll: {
      input: v.object({ name: v.picklist(["ring", "boom"]) }),
      apply({ timers, input }) {
        return timers.cancelAll(input.name)
      },
    },
    badTime: {
      input: v.object({}),
      apply({ timers }) {
        timers.at(Number.NaN, "ring")
      },
    },
  },
  timers: {
    ring({ state, now, payload, emit }) {
      state.fired.push({ name: "ring", at: now, payload: payload ?? null })
      emit("rang", { at: now })
    },
    boom({ state, emit }) {
      state.fired.push({ name: "boom", at: -1, payload: null })
      emit("boom-event")
      throw new Error("timer exploded")
    },
    /** Schedules another ring 10 ms later, up to `payload` times. */
    chain({ state, now, payload, timers }) {
      state.fired.push({ name: "chain", at: now, payload: payload ?? null })
      const left = Number(payload ?? 0)
      if (left > 0) timers.after(10, "chain", left - 1)
    },
    finish({ end, timers }) {
      timers.after(1, "ring")
      end("timed out")
    },
    /** Re-arms itself for the same instant, forever. */
    forever({ state, timers, now }) {
      state.fired.push({ name: "forever", at: now, payload: null })
      timers.after(0, "forever")
    },
    /** Uses the rng: a move must continue the same sequence. */
    draw({ state, now, rng }) {
      state.fired.push({ name: "draw", at: now, payload: rng.int(0, 1_000_000) })
    },
  },
})

let id = 0
function schedule(s: Session, ms: number, name: "ring" | "boom" | "chain" | "finish" | "draw" | "forever", payload?: unknown, now = T0) {
  const out = s.act({ player: "p1", client: "c1", id: ++id, name: "after", input: { ms, name, payload }, now })
  if (!out.ok) throw new Error(`${out.code}: ${out.message}`)
  return out.value as number
}
function call(s: Session, name: string, input: unknown, now = T0) {
  return s.act({ player: "p1", client: "c1", id: ++id, name, input, now })
}
function fresh(): Session<typeof alarms> {
  const s = Session.create(alarms, { id: "t", now: T0, seed: "timers" })
  s.join("p1", T0)
  return s
}
const fired = (s: Session<typeof alarms>) => s.record.state.fired.map((f) => [f.name, f.at - T0])

describe("timers", () => {
  test("are stored as absolute deadlines with increasing ids", () => {
    const s = fresh()
    expect(schedule(s, 1000, "ring", { hello: "world" })).toBe(1)
    expect(schedule(s, 500, "ring", undefined, T0 + 100)).toBe(2)
    expect(call(s, "at", { time: T0 + 42 })).toEqual({ ok: true, value: 3 })
    expect(s.record.timers).toEqual([
      { id: 1, name: "ring", at: T0 + 1000, payload: { hello: "world" } },
      { id: 2, name: "ring", at: T0 + 600, payload: null },
      { id: 3, name: "ring", at: T0 + 42, payload: null },
    ])
    expect(s.record.nextTimerId).toBe(4)
    expect(s.nextWakeAt()).toBe(T0 + 42)
  })

  test("fire at their deadline, not before, with ctx.now = the deadline and their payload", () => {
    const s = fresh()
    schedule(s, 1000, "ring", { n: 7 })
    s.advance(T0 + 999)
    expect(s.record.state.fired).toEqual([])
    expect(s.record.timers).toHaveLength(1)
    s.advance(T0 + 1500)
    expect(s.record.state.fired).toEqual([{ name: "ring", at: T0 + 1000, payload: { n: 7 } }])
    expect(s.record.timers).toEqual([])
    expect(s.nextWakeAt()).toBeNull()
    expect(s.takeEvents()).toEqual([{ event: "rang", data: { at: T0 + 1000 }, to: null }])
    s.advance(T0 + 5000)
    expect(s.record.state.fired).toHaveLength(1)
  })

  test("fire in deadline order, ties in scheduling order", () => {
    const s = fresh()
    schedule(s, 300, "ring", "c")
    schedule(s, 100, "ring", "a")
    schedule(s, 200, "ring", "b1")
    schedule(s, 200, "ring", "b2")
    call(s, "at", { time: T0 + 50, payload: "first" })
    s.advance(T0 + 1000)
    expect(s.record.state.fired.map((f) => [f.payload, f.at - T0])).toEqual([
      ["first", 50],
      ["a", 100],
      ["b1", 200],
      ["b2", 200],
      ["c", 300],
    ])
  })

  test("a timer scheduled by a timer fires within the same advance when it is due", () => {
    const s = fresh()
    schedule(s, 100, "chain", 3)
    s.advance(T0 + 125)
    expect(fired(s)).toEqual([
      ["chain", 100],
      ["chain", 110],
      ["chain", 120],
    ])
    expect(s.record.timers).toMatchObject([{ name: "chain", at: T0 + 130, payload: 0 }])
    s.advance(T0 + 1000)
    expect(fired(s)).toHaveLength(4)
  })

  test("cancel and cancelAll", () => {
    const s = fresh()
    const a = schedule(s, 100, "ring")
    const b = schedule(s, 200, "ring")
    schedule(s, 300, "boom")
    const c = schedule(s, 400, "ring")
    expect(call(s, "cancel", { id: b })).toEqual({ ok: true, value: true })
    expect(call(s, "cancel", { id: b })).toEqual({ ok: true, value: false })
    expect(call(s, "cancel", { id: 999 })).toEqual({ ok: true, value: false })
    expect(s.record.timers.map((t) => t.id)).toEqual([a, 3, c])
    expect(call(s, "cancelAll", { name: "ring" })).toEqual({ ok: true, value: 2 })
    expect(call(s, "cancelAll", { name: "ring" })).toEqual({ ok: true, value: 0 })
    expect(s.record.timers.map((t) => t.name)).toEqual(["boom"])
  })

  test("a timer handler that throws is dropped and reported; state and the other timers are intact", () => {
    const s = fresh()
    schedule(s, 100, "ring", 1)
    schedule(s, 200, "boom")
    schedule(s, 300, "ring", 3)
    s.advance(T0 + 150)
    s.takeEvents()
    const state = s.record.state
    s.advance(T0 + 250)
    expect(s.record.state).toBe(state)
    expect(s.record.timers.map((t) => t.name)).toEqual(["ring"])
    expect(s.takeEvents()).toEqual([])
    const faults = s.takeFaults()
    expect(faults).toHaveLength(1)
    expect(faults[0]?.where).toBe('timer "boom"')
    expect(String(faults[0]?.error)).toContain("timer exploded")
    s.advance(T0 + 300)
    expect(fired(s)).toEqual([
      ["ring", 100],
      ["ring", 300],
    ])
    expect(s.takeFaults()).toEqual([])
  })

  test("ending the session from a timer clears the other timers", () => {
    const s = fresh()
    schedule(s, 100, "finish")
    schedule(s, 150, "ring")
    s.advance(T0 + 1000)
    expect(s.record).toMatchObject({ status: "ended", result: "timed out", endedAt: T0 + 100, timers: [] })
    expect(s.record.state.fired).toEqual([])
    expect(s.nextWakeAt()).toBeNull()
  })

  test("a timer that re-arms itself at once cannot hang advance", () => {
    const s = fresh()
    schedule(s, 10, "forever")
    s.advance(T0 + 10)
    const runs = s.record.state.fired.length
    expect(runs).toBeGreaterThan(10)
    expect(runs).toBeLessThanOrEqual(1000)
    expect(s.record.timers).toHaveLength(1)
    expect(s.nextWakeAt()).toBe(T0 + 10)
  })

  test("a non-finite time is refused as a game error", () => {
    const s = fresh()
    expect(call(s, "badTime", {})).toMatchObject({ ok: false, code: "game_error", message: expect.stringContaining("finite") })
    expect(s.record.timers).toEqual([])
  })

  test("a timer whose handler the game no longer has is dropped silently", () => {
    const s = fresh()
    schedule(s, 100, "ring")
    const record: SessionRecord = { ...s.record, timers: [{ id: 50, name: "gone", at: T0 + 50, payload: null }, ...s.record.timers] }
    const resumed = Session.resume(alarms, record)
    resumed.advance(T0 + 200)
    expect(fired(resumed)).toEqual([["ring", 100]])
    expect(resumed.record.timers).toEqual([])
  })

  test("a timer survives a move: JSON copy, resume, same effect at the same deadline", () => {
    const original = fresh()
    schedule(original, 1000, "ring", { move: true })
    schedule(original, 1500, "draw")
    schedule(original, 2000, "chain", 2)
    original.advance(T0 + 400)
    const copy = JSON.parse(JSON.stringify(original.record)) as SessionRecord
    const moved = Session.resume(alarms, copy)
    expect(moved.record.timers).toEqual(original.record.timers)
    expect(moved.nextWakeAt()).toBe(T0 + 1000)

    moved.advance(T0 + 999)
    expect(moved.record.state.fired).toEqual([])
    for (const s of [original, moved]) s.advance(T0 + 5000)
    expect(moved.record.state).toEqual(original.record.state)
    expect(fired(moved)).toEqual([
      ["ring", 1000],
      ["draw", 1500],
      ["chain", 2000],
      ["chain", 2010],
      ["chain", 2020],
    ])
    expect(moved.record).toEqual(original.record)
    expect(moved.takeEvents()).toEqual(original.takeEvents())
  })
})
