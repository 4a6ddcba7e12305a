import { describe, expect, test } from "bun:test"
import { defineGame, GameLoadError, type MigrateContext, Session, type SessionRecord, v } from "batonjs"

/**
 * Timers with a payload schema: the payload is checked when the timer is
 * scheduled (it is stored with the session), parsed again when it fires,
 * and checked when a session is resumed, where `migrate` may bring pending
 * timers along from an older version.
 */
const T0 = 1_700_000_000_000

const Reveal = v.object({ card: v.pipe(v.number(), v.integer(), v.minValue(0)), by: v.string() })

const board = defineGame({
  name: "board",
  version: 1,
  players: { min: 1, max: 2 },
  state: v.object({
    cards: v.array(v.number()),
    seen: v.array(v.unknown()),
  }),
  setup: () => ({ cards: [3, 1, 4], seen: [] }),
  actions: {
    reveal: {
      input: v.object({ payload: v.unknown() }),
      apply({ timers, input }) {
        return timers.after(100, "reveal", input.payload as v.InferInput<typeof Reveal>)
      },
    },
    snapshot: {
      input: v.object({}),
      apply({ state, timers }) {
        timers.after(100, "snapshot", { cards: state.cards }) // a piece of the draft: stored as a copy
        state.cards.push(9)
      },
    },
    shout: {
      input: v.object({ text: v.optional(v.string()) }),
      apply({ timers, input }) {
        if (input.text === undefined) timers.after(100, "shout")
        else timers.after(100, "shout", { text: input.text })
      },
    },
    length: {
      input: v.object({ text: v.string() }),
      apply({ timers, input }) {
        timers.after(100, "length", input.text)
      },
    },
    bare: {
      input: v.object({ date: v.boolean() }),
      apply({ timers, input }) {
        timers.after(100, "bare", input.date ? { when: new Date(T0) } : { big: BigInt(1) })
      },
    },
  },
  timers: {
    reveal: {
      payload: Reveal,
      apply({ state, payload }) {
        state.seen.push({ card: payload.card, face: state.cards[payload.card] ?? null, by: payload.by })
      },
    },
    snapshot: {
      payload: v.object({ cards: v.array(v.number()) }),
      apply({ state, payload }) {
        state.seen.push(payload.cards)
      },
    },
    shout: {
      payload: v.optional(v.object({ text: v.string() })),
      apply({ state, payload }) {
        state.seen.push(payload === undefined ? "(silence)" : payload.text)
      },
    },
    length: {
      // The stored payload is what the schema takes; the handler gets what it outputs.
      payload: v.pipe(v.string(), v.transform((s) => s.length)),
      apply({ state, payload }) {
        state.seen.push(payload)
      },
    },
    bare({ state, payload }) {
      state.seen.push(payload)
    },
  },
})

let id = 0
function act(s: Session, name: string, input: unknown, now = T0) {
  return s.act({ player: "p1", client: "c1", id: ++id, name, input, now })
}
function fresh(): Session<typeof board> {
  const s = Session.create(board, { id: "b", now: T0, seed: "timers" })
  s.join("p1", T0)
  return s
}

describe("timers with a payload schema", () => {
  test("the payload is stored as scheduled and the handler gets it typed", () => {
    const s = fresh()
    expect(act(s, "reveal", { payload: { card: 2, by: "p1" } })).toEqual({ ok: true, value: 1 })
    expect(s.record.timers).toEqual([{ id: 1, name: "reveal", at: T0 + 100, payload: { card: 2, by: "p1" } }])
    s.advance(T0 + 100)
    expect(s.record.state.seen).toEqual([{ card: 2, face: 4, by: "p1" }])
  })

  test("a payload that fails the schema is refused when scheduled, naming the timer and the field; nothing changes", () => {
    const s = fresh()
    const before = s.record
    const out = act(s, "reveal", { payload: { card: -1, by: "p1" } })
    expect(out).toMatchObject({ ok: false, code: "game_error" })
    expect(!out.ok && out.message).toContain('timer "reveal": the payload fails the timer\'s schema: card: Invalid value: Expected >=0 but received -1')
    const missing = act(s, "reveal", { payload: { card: 1 } })
    expect(!missing.ok && missing.message).toContain('timer "reveal": the payload fails the timer\'s schema: by: Invalid key')
    expect(s.record.timers).toEqual([])
    expect(s.record.state).toBe(before.state)
    expect(s.record.nextTimerId).toBe(1)
  })

  test("a payload JSON cannot carry is refused when scheduled, typed timer or not", () => {
    const s = fresh()
    const date = act(s, "bare", { date: true })
    expect(!date.ok && date.message).toContain('timer "bare": payload.when is a Date, which JSON does not keep')
    const big = act(s, "bare", { date: false })
    expect(!big.ok && big.message).toContain('timer "bare": payload.big is a bigint, which JSON cannot carry')
    expect(s.record.timers).toEqual([])
  })

  test("a payload taken from the state is stored as a copy of it at scheduling time", () => {
    const s = fresh()
    expect(act(s, "snapshot", {})).toEqual({ ok: true })
    expect(s.record.state.cards).toEqual([3, 1, 4, 9])
    expect(s.record.timers[0]?.payload).toEqual({ cards: [3, 1, 4] })
    s.advance(T0 + 100)
    expect(s.record.state.seen).toEqual([[3, 1, 4]])
  })

  test("an optional payload: none is stored as null and reaches the handler as undefined", () => {
    const s = fresh()
    act(s, "shout", {})
    act(s, "shout", { text: "hey" })
    expect(s.record.timers.map((t) => t.payload)).toEqual([null, { text: "hey" }])
    s.advance(T0 + 100)
    expect(s.record.state.seen).toEqual(["(silence)", "hey"])
  })

  test("the stored payload is the schema's input; the handler gets its output", () => {
    const s = fresh()
    act(s, "length", { text: "abcd" })
    expect(s.record.timers[0]?.payload).toBe("abcd")
    // A move: the record as JSON, resumed elsewhere.
    const moved = Session.resume(board, JSON.parse(JSON.stringify(s.record)))
    moved.advance(T0 + 100)
    expect(moved.record.state.seen).toEqual([4])
  })
})

type Step = (old: { cards: number[]; seen: unknown[] }, ctx: MigrateContext) => unknown

/** Version 2 of the board: `reveal` carries `{ cards: [n], by }`; `shout` is gone. */
const board2 = (migrate?: Record<number, Step>) =>
  defineGame({
    name: "board",
    version: 2,
    players: board.players,
    state: board.state,
    setup: board.setup,
    actions: {},
    timers: {
      reveal: {
        payload: v.object({ cards: v.array(v.number()), by: v.string() }),
        apply({ state, payload }) {
          state.seen.push({ cards: payload.cards, by: payload.by })
        },
      },
      length: {
        payload: v.pipe(v.string(), v.transform((s) => s.length)),
        apply({ state, payload }) {
          state.seen.push(payload)
        },
      },
    },
    migrate,
  })

function pendingV1(): SessionRecord {
  const s = fresh()
  act(s, "reveal", { payload: { card: 1, by: "p1" } })
  act(s, "shout", { text: "bye" })
  act(s, "length", { text: "xy" })
  return JSON.parse(JSON.stringify(s.record))
}

function loadError(fn: () => unknown): GameLoadError {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(GameLoadError)
    return e as GameLoadError
  }
  throw new Error("expected a GameLoadError")
}

describe("pending timers across versions", () => {
  test("a pending payload that fails the new version's schema: the session does not load, and the error names the timer", () => {
    const e = loadError(() => Session.resume(board2({ 1: (old) => old }), pendingV1()))
    expect(e.code).toBe("invalid_timer")
    expect(e.message).toBe(
      'session b (state version 1) has a pending timer "reveal" (id 1): the payload fails the timer\'s schema: cards: Invalid key: Expected "cards" but received undefined under "board" v2',
    )
  })

  test("a record of the same version is checked too", () => {
    const record = pendingV1()
    const broken = { ...record, timers: [{ id: 1, name: "reveal", at: T0 + 100, payload: { card: "one", by: "p1" } }] }
    expect(loadError(() => Session.resume(board, broken)).code).toBe("invalid_timer")
  })

  test("migrate brings pending timers along: re-shaped, renamed or dropped, ids and deadlines kept", () => {
    const stored = pendingV1()
    const copy = structuredClone(stored)
    const migrate: Record<number, Step> = {
      1: (old, ctx) => {
        for (const t of ctx.timers)
          if (t.name === "reveal") {
            const { card, by } = t.payload as { card: number; by: string }
            t.payload = { cards: [card], by }
          }
        ctx.timers = ctx.timers.filter((t) => t.name !== "shout")
        return old
      },
    }
    const s = Session.resume(board2(migrate), stored)
    expect(stored).toEqual(copy) // the stored record is not touched
    expect(s.record.timers).toEqual([
      { id: 1, name: "reveal", at: T0 + 100, payload: { cards: [1], by: "p1" } },
      { id: 3, name: "length", at: T0 + 100, payload: "xy" },
    ])
    expect(s.record.nextTimerId).toBe(4)
    s.advance(T0 + 100)
    expect(s.record.state.seen).toEqual([{ cards: [1], by: "p1" }, 2])
  })

  test("a step that leaves a timer without a name or time, or a payload JSON cannot carry, fails the migration", () => {
    const cases: [(t: { name: string; at: number; payload: unknown }) => void, string][] = [
      [(t) => void (t.name = ""), "ctx.timers[0].name must be a timer's name"],
      [(t) => void (t.at = Number.NaN), "ctx.timers[0].at must be a finite time"],
      [(t) => void (t.payload = { at: new Date(0) }), "ctx.timers[0].payload.at is a Date"],
    ]
    for (const [spoil, message] of cases) {
      const e = loadError(() => Session.resume(board2({ 1: (old, ctx) => (spoil(ctx.timers[0] as never), old) }), pendingV1()))
      expect(e.code).toBe("migration_failed")
      expect(e.message).toContain(message)
    }
  })

  test("a timer a step adds gets the next id", () => {
    const migrate: Record<number, Step> = {
      1: (old, ctx) => {
        ctx.timers = [{ name: "length", at: T0 + 50, payload: "abc" } as (typeof ctx.timers)[number]] // no id
        return old
      },
    }
    const s = Session.resume(board2(migrate), pendingV1())
    expect(s.record.timers).toEqual([{ id: 4, name: "length", at: T0 + 50, payload: "abc" }])
    expect(s.record.nextTimerId).toBe(5)
  })
})

describe("defineGame and timers", () => {
  test("a timer must be a handler or { payload: schema, apply }", () => {
    const def = (timers: unknown) => () => defineGame({ ...board, timers: timers as never })
    expect(def({ a: 1 })).toThrow("timers.a must be a handler or { payload: schema, apply }")
    expect(def({ a: { payload: { card: 1 }, apply() {} } })).toThrow("timers.a must be a handler")
    expect(def({ a: { payload: v.number() } })).toThrow("timers.a must be a handler")
    expect(def(5)).toThrow("timers must be an object")
    expect(def({ a: () => {}, b: { payload: v.number(), apply() {} } })).not.toThrow()
  })
})
