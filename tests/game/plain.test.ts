import { describe, expect, test } from "bun:test"
import { defineGame, Session, v } from "batonjs"
import { jsonProblem } from "../../framework/game/plain.ts"

const T0 = 1_700_000_000_000

describe("state JSON can carry", () => {
  test("plain values pass; each kind JSON cannot carry is named with its path", () => {
    expect(jsonProblem({ a: [1, "x", true, null, { b: -0.5 }], c: undefined }, undefined)).toBeUndefined()
    expect(jsonProblem({ a: { big: 1n } }, undefined)).toBe("state.a.big is a bigint, which JSON cannot carry")
    expect(jsonProblem({ when: new Date(T0) }, undefined)).toContain("state.when is a Date")
    expect(jsonProblem({ seen: new Map() }, undefined)).toContain("state.seen is a Map")
    expect(jsonProblem({ f: () => 1 }, undefined)).toBe("state.f is a function, which JSON cannot carry")
    expect(jsonProblem({ n: Number.NaN }, undefined)).toBe("state.n is NaN, which JSON turns into null")
    expect(jsonProblem({ xs: [1, undefined] }, undefined)).toBe("state.xs[1] is empty, which JSON turns into null")
    expect(jsonProblem({ xs: new Array(2) }, undefined)).toBe("state.xs[0] is empty, which JSON turns into null")
    const loop: Record<string, unknown> = {}
    loop.self = loop
    expect(jsonProblem(loop, undefined)).toContain("nested deeper than")
  })

  test("a subtree shared with the state before the step is not walked again", () => {
    const untouched = { deep: { bad: 1n } } // cannot be in a real state; proves the walk skips what is shared
    expect(jsonProblem({ kept: untouched, n: 2 }, { kept: untouched, n: 1 })).toBeUndefined()
    expect(jsonProblem({ kept: { deep: { bad: 2n } }, n: 2 }, { kept: untouched, n: 1 })).toContain("state.kept.deep.bad")
  })
})

const careless = defineGame({
  name: "careless",
  version: 1,
  players: { min: 1, max: 2 },
  state: v.object({ n: v.number() }),
  setup: () => ({ n: 0 }),
  actions: {
    inc: { input: v.object({}), apply: ({ state }) => void state.n++ },
    stamp: { input: v.object({}), apply: ({ state }) => void ((state as Record<string, unknown>).when = new Date(T0)) },
    later: { input: v.object({}), apply: ({ timers }) => void timers.after(10, "poison", null) },
  },
  timers: { poison: ({ state }) => void ((state as Record<string, unknown>).big = BigInt(1)) },
})

describe("a step that leaves a value JSON cannot carry", () => {
  test("an action is refused with game_error naming the value, and the state is as before", () => {
    const s = Session.create(careless, { id: "s1", now: T0 })
    expect(s.join("ann", T0).ok).toBe(true)
    const out = s.act({ player: "ann", client: "c", id: 1, name: "stamp", input: {}, now: T0 })
    expect(out).toMatchObject({ ok: false, code: "game_error" })
    expect(out.ok ? "" : out.message).toContain("state.when is a Date")
    expect(JSON.parse(JSON.stringify(s.record.state))).toEqual({ n: 0 })
    expect(s.act({ player: "ann", client: "c", id: 2, name: "inc", input: {}, now: T0 }).ok).toBe(true)
  })

  test("a timer's step is undone and reported as a fault; the session goes on", () => {
    const s = Session.create(careless, { id: "s2", now: T0 })
    s.join("ann", T0)
    s.act({ player: "ann", client: "c", id: 1, name: "later", input: {}, now: T0 })
    s.advance(T0 + 20)
    const faults = s.takeFaults()
    expect(faults).toHaveLength(1)
    expect(String((faults[0]!.error as Error).message)).toContain("state.big is a bigint")
    expect(s.record.timers).toEqual([])
    expect(JSON.stringify(s.record)).not.toContain("big")
    expect(s.act({ player: "ann", client: "c", id: 2, name: "inc", input: {}, now: T0 + 30 }).ok).toBe(true)
  })
})
