import { describe, expect, test } from "bun:test"
import { defineGame, Session, type SessionRecord, v } from "batonjs"
import { rngOver, seedRng } from "../../framework/game/rng.ts"

const T0 = 1_700_000_000_000
const draws = (seed: string, n: number) => {
  const rng = rngOver(seedRng(seed))
  return Array.from({ length: n }, () => rng.next())
}

describe("seedRng / rngOver", () => {
  test("the same seed gives the same sequence; another seed another", () => {
    expect(seedRng("alpha")).toEqual(seedRng("alpha"))
    expect(draws("alpha", 100)).toEqual(draws("alpha", 100))
    expect(draws("alpha", 100)).not.toEqual(draws("alphb", 100))
    expect(draws("", 10)).toEqual(draws("", 10))
  })

  test("the state is four unsigned 32-bit words, advanced in place", () => {
    const state = seedRng("words")
    expect(state).toHaveLength(4)
    for (const w of state) expect(Number.isInteger(w) && w >= 0 && w < 2 ** 32).toBe(true)
    const before = state.slice()
    rngOver(state).next()
    expect(state).not.toEqual(before)
    for (const w of state) expect(Number.isInteger(w) && w >= 0 && w < 2 ** 32).toBe(true)
  })

  test("continuing from a copied state continues the same sequence", () => {
    const state = seedRng("resume")
    const rng = rngOver(state)
    for (let i = 0; i < 17; i++) rng.next()
    const copy = JSON.parse(JSON.stringify(state))
    const tail = Array.from({ length: 50 }, () => rng.next())
    const again = rngOver(copy)
    expect(Array.from({ length: 50 }, () => again.next())).toEqual(tail)
  })

  test("next is in [0, 1) and looks uniform", () => {
    const xs = draws("uniform", 20_000)
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true)
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01)
    expect(new Set(xs).size).toBeGreaterThan(19_990)
  })

  test("int stays within its inclusive bounds and reaches both", () => {
    const rng = rngOver(seedRng("ints"))
    const seen = new Map<number, number>()
    for (let i = 0; i < 6000; i++) {
      const n = rng.int(-2, 3)
      expect(Number.isInteger(n)).toBe(true)
      expect(n).toBeGreaterThanOrEqual(-2)
      expect(n).toBeLessThanOrEqual(3)
      seen.set(n, (seen.get(n) ?? 0) + 1)
    }
    expect([...seen.keys()].sort((a, b) => a - b)).toEqual([-2, -1, 0, 1, 2, 3])
    for (const count of seen.values()) expect(count).toBeGreaterThan(800) // ~1000 each
    expect(rng.int(5, 5)).toBe(5)
    const big = rng.int(0, 2 ** 31)
    expect(big >= 0 && big <= 2 ** 31).toBe(true)
  })

  test("int refuses bad bounds", () => {
    const rng = rngOver(seedRng("bad"))
    expect(() => rng.int(3, 2)).toThrow(RangeError)
    expect(() => rng.int(0.5, 2)).toThrow("rng.int(0.5, 2): need integers with min <= max")
    expect(() => rng.int(0, Number.NaN)).toThrow(RangeError)
  })

  test("shuffle is an in-place permutation, deterministic per seed", () => {
    const items = Array.from({ length: 52 }, (_, i) => i)
    const rng = rngOver(seedRng("deck"))
    for (let round = 0; round < 20; round++) {
      const deck = items.slice()
      const out = rng.shuffle(deck)
      expect(out).toBe(deck)
      expect(deck.slice().sort((a, b) => a - b)).toEqual(items)
    }
    const a = rngOver(seedRng("deck2")).shuffle(items.slice())
    const b = rngOver(seedRng("deck2")).shuffle(items.slice())
    expect(a).toEqual(b)
    expect(a).not.toEqual(items)
    expect(rngOver(seedRng("x")).shuffle([])).toEqual([])
    expect(rngOver(seedRng("x")).shuffle(["only"])).toEqual(["only"])
  })

  test("shuffle reaches every order of a small array", () => {
    const rng = rngOver(seedRng("orders"))
    const orders = new Set<string>()
    for (let i = 0; i < 600; i++) orders.add(rng.shuffle([1, 2, 3]).join(""))
    expect([...orders].sort()).toEqual(["123", "132", "213", "231", "312", "321"])
  })

  test("pick and chance", () => {
    const rng = rngOver(seedRng("pick"))
    const items = ["a", "b", "c"] as const
    const picked = new Set<string>()
    for (let i = 0; i < 200; i++) picked.add(rng.pick(items))
    expect([...picked].sort()).toEqual(["a", "b", "c"])
    expect(() => rng.pick([])).toThrow(RangeError)
    for (let i = 0; i < 100; i++) {
      expect(rng.chance(0)).toBe(false)
      expect(rng.chance(1)).toBe(true)
    }
    const heads = Array.from({ length: 4000 }, () => rng.chance(0.25)).filter(Boolean).length
    expect(heads).toBeGreaterThan(850)
    expect(heads).toBeLessThan(1150)
  })
})

describe("the session's rng", () => {
  const dice = defineGame({
    name: "dice",
    version: 1,
    players: { min: 1, max: 1 },
    state: v.object({ rolls: v.array(v.number()) }),
    setup: () => ({ rolls: [] }),
    actions: {
      roll: {
        input: v.object({ fail: v.optional(v.boolean()) }),
        apply({ state, rng, reject, input }) {
          const n = rng.int(1, 1_000_000)
          if (input.fail) reject("no", "rolled but refused")
          state.rolls.push(n)
          return n
        },
      },
    },
  })

  function rolls(s: Session, from: number, count: number, opts: { failEvery?: number } = {}): unknown[] {
    const out: unknown[] = []
    for (let id = from; id < from + count; id++) {
      const fail = opts.failEvery !== undefined && id % opts.failEvery === 0
      const res = s.act({ player: "p", client: "c", id, name: "roll", input: { fail }, now: T0 + id })
      out.push(res.ok ? res.value : res.code)
    }
    return out
  }

  function open(seed: string) {
    const s = Session.create(dice, { id: "d", now: T0, seed })
    s.join("p", T0)
    return s
  }

  test("same seed, same rolls; the state lives in the record", () => {
    const a = open("s")
    const b = open("s")
    const ra = rolls(a, 1, 20)
    expect(rolls(b, 1, 20)).toEqual(ra)
    expect(a.record.rng).toEqual(b.record.rng)
    expect(rolls(open("t"), 1, 20)).not.toEqual(ra)
    expect(new Set(ra).size).toBeGreaterThan(15)
  })

  test("a refused action does not advance the rng", () => {
    const a = open("s")
    const b = open("s")
    const rngBefore = [...a.record.rng]
    expect(rolls(a, 1, 1, { failEvery: 1 })).toEqual(["no"])
    expect([...a.record.rng]).toEqual(rngBefore)
    expect(rolls(a, 2, 5)).toEqual(rolls(b, 1, 5))
  })

  test("a session resumed from a JSON copy continues the exact same sequence", () => {
    const original = open("move")
    rolls(original, 1, 7)
    const moved = Session.resume(dice, JSON.parse(JSON.stringify(original.record)) as SessionRecord)
    const next = rolls(original, 8, 30, { failEvery: 4 })
    expect(rolls(moved, 8, 30, { failEvery: 4 })).toEqual(next)
    expect(moved.record.rng).toEqual(original.record.rng)
    expect(moved.record.state).toEqual(original.record.state)
  })
})
