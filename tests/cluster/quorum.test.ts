import { describe, expect, test } from "bun:test"
import fc from "fast-check"
import { isMajority, majorityAnchor } from "../../framework/cluster/quorum.ts"

const voters = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`)

describe("isMajority", () => {
  test("strict: more than half of the voters, never exactly half", () => {
    expect(isMajority(["a", "b"], ["a", "b", "c"])).toBe(true)
    expect(isMajority(["a"], ["a", "b", "c"])).toBe(false)
    expect(isMajority(["n0", "n1", "n2"], voters(5))).toBe(true)
    expect(isMajority(["n0", "n1"], voters(5))).toBe(false)
    // Even splits have no majority: 1 of 2, 2 of 4, 3 of 6.
    expect(isMajority(["a"], ["a", "b"])).toBe(false)
    expect(isMajority(["a", "b"], ["a", "b", "c", "d"])).toBe(false)
    expect(isMajority(["n0", "n1", "n2"], voters(6))).toBe(false)
    expect(isMajority(["n0", "n1", "n2", "n3"], voters(6))).toBe(true)
    expect(isMajority([], voters(3))).toBe(false)
  })

  test("one voter: it alone is a majority, nobody else is", () => {
    expect(isMajority(["a"], ["a"])).toBe(true)
    expect(isMajority(["b"], ["a"])).toBe(false)
    expect(isMajority([], ["a"])).toBe(false)
  })

  test("members that are not voters do not count", () => {
    expect(isMajority(["a", "x", "y", "z"], ["a", "b", "c"])).toBe(false)
    expect(isMajority(["x", "y"], ["a"])).toBe(false)
    // No voters at all: nothing is a majority of them.
    expect(isMajority(["a"], [])).toBe(false)
  })

  test("duplicates count once, among members and among voters", () => {
    expect(isMajority(["a", "a", "a"], ["a", "b", "c"])).toBe(false)
    // Voter "a" listed twice is one voter of three, not two of four.
    expect(isMajority(["a", "b"], ["a", "a", "b", "c"])).toBe(true)
    expect(isMajority(["a"], ["a", "a", "b"])).toBe(false)
    // A Set or a generator works as well as an array.
    expect(isMajority(new Set(["a", "b"]), ["a", "b", "c"])).toBe(true)
    expect(isMajority((function* () { yield "a"; yield "c" })(), ["a", "b", "c"])).toBe(true)
  })

  const ids = fc.constantFrom("a", "b", "c", "d", "e", "f", "g", "h")
  const voterList = fc.array(ids, { minLength: 1, maxLength: 10 })

  test("property: two disjoint member sets are never both majorities of the same voters", () => {
    fc.assert(
      fc.property(voterList, fc.array(ids, { maxLength: 10 }), fc.array(ids, { maxLength: 10 }), (v, x, y) => {
        const ys = y.filter((m) => !x.includes(m))
        return !(isMajority(x, v) && isMajority(ys, v))
      }),
      { numRuns: 2_000 },
    )
  })

  test("property: a set and its complement within the voters: at most one is a majority, and with an odd count exactly one", () => {
    fc.assert(
      fc.property(fc.uniqueArray(ids, { minLength: 1 }), fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }), (v, pick) => {
        const side = v.filter((_, i) => pick[i])
        const other = v.filter((_, i) => !pick[i])
        const a = isMajority(side, v)
        const b = isMajority(other, v)
        if (a && b) return false
        return v.length % 2 === 1 ? a !== b : side.length === other.length ? !a && !b : a !== b
      }),
      { numRuns: 2_000 },
    )
  })

  test("property: monotone (adding members never loses a majority) and blind to non-voters", () => {
    fc.assert(
      fc.property(voterList, fc.array(ids), fc.array(ids), fc.array(fc.constantFrom("x", "y", "z")), (v, m, more, strangers) => {
        if (isMajority(m, v) && !isMajority([...m, ...more], v)) return false
        return isMajority([...m, ...strangers], v) === isMajority(m, v)
      }),
      { numRuns: 2_000 },
    )
  })
})

describe("majorityAnchor", () => {
  test("the floor(n/2)-th freshest anchor (0-based): a majority heard from us at or after it", () => {
    const at: Record<string, number> = { a: 100, b: 300, c: 200 }
    // 3 voters: the 2nd freshest (two of three at or after 200).
    expect(majorityAnchor(["a", "b", "c"], (v) => at[v]!)).toBe(200)
    // 4 voters: the 3rd freshest (three of four).
    expect(majorityAnchor(["a", "b", "c", "d"], (v) => ({ ...at, d: 400 })[v]!)).toBe(200)
    // 5 voters: the 3rd freshest.
    expect(majorityAnchor(voters(5), (v) => [50, 10, 40, 20, 30][Number(v.slice(1))]!)).toBe(30)
    // 2 voters: both are needed, so the older one.
    expect(majorityAnchor(["a", "b"], (v) => at[v]!)).toBe(100)
    // 1 voter: its own.
    expect(majorityAnchor(["a"], () => 42)).toBe(42)
  })

  test("order of the voters does not matter", () => {
    const at: Record<string, number> = { a: 5, b: 1, c: 9, d: 7, e: 3 }
    expect(majorityAnchor(["a", "b", "c", "d", "e"], (v) => at[v]!)).toBe(5)
    expect(majorityAnchor(["e", "d", "c", "b", "a"], (v) => at[v]!)).toBe(5)
    expect(majorityAnchor(["c", "a", "e", "b", "d"], (v) => at[v]!)).toBe(5)
  })

  test("-Infinity (no fresh word) counts as never: too many of them and there is no anchor", () => {
    const at: Record<string, number> = { a: 1_000, b: -Infinity, c: 900 }
    expect(majorityAnchor(["a", "b", "c"], (v) => at[v]!)).toBe(900)
    expect(majorityAnchor(["a", "b", "c"], (v) => (v === "a" ? 1_000 : -Infinity))).toBe(-Infinity)
    // An even split of fresh and silent voters has no anchor either.
    expect(majorityAnchor(["a", "b", "c", "d"], (v) => (v < "c" ? 1_000 : -Infinity))).toBe(-Infinity)
    expect(majorityAnchor(["a", "b", "c", "d"], (v) => (v < "d" ? 1_000 : -Infinity))).toBe(1_000)
    // Several -Infinity among fresh ones sort below them, whatever their place in the list.
    expect(majorityAnchor(["b", "x", "a", "y", "c"], (v) => ({ a: 3, b: -Infinity, c: 2, x: -Infinity, y: 1 })[v]!)).toBe(1)
    // Lease arithmetic on it stays -Infinity: no lease.
    expect(majorityAnchor(["a", "b", "c"], () => -Infinity) + 1_500).toBe(-Infinity)
  })

  test("property: a strict majority of the voters have anchors at or after it, and the anchor is one of theirs", () => {
    const anchor = fc.oneof(fc.integer({ min: 0, max: 1_000 }), fc.constant(Number.NEGATIVE_INFINITY))
    fc.assert(
      fc.property(fc.array(anchor, { minLength: 1, maxLength: 12 }), (times) => {
        const v = voters(times.length)
        const a = majorityAnchor(v, (id) => times[Number(id.slice(1))]!)
        const atOrAfter = v.filter((id) => times[Number(id.slice(1))]! >= a)
        const after = v.filter((id) => times[Number(id.slice(1))]! > a)
        // At or after it: a majority. Strictly after it: none (it is the latest such time).
        return times.includes(a) && isMajority(atOrAfter, v) && !isMajority(after, v)
      }),
      { numRuns: 2_000 },
    )
  })
})
