import { describe, expect, test } from "bun:test"
import { defineGame, v } from "batonjs"

const base = {
  name: "good",
  version: 1,
  players: { min: 1, max: 2 },
  state: v.object({ n: v.number() }),
  setup: () => ({ n: 0 }),
  actions: {
    inc: {
      input: v.object({}),
      apply({ state }: { state: { n: number } }) {
        state.n++
      },
    },
  },
}

/** defineGame with some fields replaced, types aside (these are the mistakes a JS user or a cast can make). */
function define(overrides: Record<string, unknown>) {
  return () => defineGame({ ...base, ...overrides } as typeof base)
}

describe("defineGame", () => {
  test("returns the game with its defaults", () => {
    const g = defineGame(base)
    expect(g.kind).toBe("baton.game")
    expect(g.name).toBe("good")
    expect(g.durability).toBe("local")
    expect(g.actions.inc).toBe(base.actions.inc)
    expect(defineGame({ ...base, durability: "replicated" }).durability).toBe("replicated")
  })

  test("accepts the edges of every range", () => {
    for (const name of ["a", "0", "tic-tac_toe2", "x".repeat(64)]) expect(define({ name })).not.toThrow()
    expect(define({ version: 12 })).not.toThrow()
    expect(define({ players: { min: 1, max: 1 } })).not.toThrow()
    expect(define({ players: { min: 2, max: 100 } })).not.toThrow()
    expect(define({ actions: {} })).not.toThrow()
    for (const hz of [0.5, 1, 60, 120]) expect(define({ tick: { hz, apply() {} } })).not.toThrow()
  })

  test("a bad name is refused with a message that says what a name may be", () => {
    for (const name of ["", "Tic", "tic tac", "-lead", "_lead", "x".repeat(65), "ünï", 42, undefined])
      expect(define({ name })).toThrow("name must be 1-64 lowercase letters, digits, '-' or '_'")
    expect(define({ name: "Bad Name" })).toThrow(/^defineGame\("Bad Name"\): name must be/)
  })

  test("a bad version is refused", () => {
    for (const version of [0, -1, 1.5, Number.NaN, "1", undefined])
      expect(define({ version })).toThrow('defineGame("good"): version must be an integer >= 1')
  })

  test("bad player counts are refused", () => {
    for (const players of [{ min: 0, max: 2 }, { min: 3, max: 2 }, { min: 1, max: 2.5 }, { min: 1 }, undefined, { min: 1, max: Number.POSITIVE_INFINITY }])
      expect(define({ players })).toThrow("players must be { min, max } with 1 <= min <= max")
  })

  test("an action without apply or without input is refused, by name", () => {
    expect(define({ actions: { place: { input: v.object({}) } } })).toThrow("actions.place needs input and apply")
    expect(define({ actions: { place: { apply() {} } } })).toThrow("actions.place needs input and apply")
    expect(define({ actions: { ok: base.actions.inc, broken: null } })).toThrow("actions.broken needs input and apply")
    expect(define({ actions: undefined })).toThrow("actions must be an object")
  })

  test("a tick rate outside (0, 120] is refused, and a tick needs apply", () => {
    for (const hz of [0, -5, 121, 1000, Number.NaN, undefined])
      expect(define({ tick: { hz, apply() {} } })).toThrow("tick.hz must be in (0, 120]")
    expect(define({ tick: { hz: 20 } })).toThrow("tick.apply must be a function")
  })

  test("setup must be a function", () => {
    expect(define({ setup: undefined })).toThrow("setup must be a function")
  })

  test("migrate steps must be functions; durability one of the two", () => {
    expect(define({ version: 3, migrate: { 1: (x: unknown) => x, 2: "nope" } })).toThrow("migrate[2] must be a function")
    expect(define({ durability: "eventually" })).toThrow('durability must be "local" or "replicated"')
  })

  test("every problem is reported at once", () => {
    let message = ""
    try {
      define({ name: "BAD", version: 0, players: { min: 0, max: 0 } })()
    } catch (e) {
      message = (e as Error).message
    }
    expect(message).toBe(
      'defineGame("BAD"): name must be 1-64 lowercase letters, digits, \'-\' or \'_\'; version must be an integer >= 1; players must be { min, max } with 1 <= min <= max',
    )
  })
})
