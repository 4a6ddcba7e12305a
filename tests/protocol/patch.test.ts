import { describe, expect, test } from "bun:test"
import { applyPatch, diff } from "../../framework/protocol/index.ts"

describe("diff / applyPatch", () => {
  const cases: [string, unknown, unknown][] = [
    ["scalar change", { a: 1 }, { a: 2 }],
    ["key added and removed", { a: 1, b: 2 }, { a: 1, c: 3 }],
    ["array grows", { xs: [1, 2] }, { xs: [1, 2, 3, 4] }],
    ["array shrinks", { xs: [1, 2, 3, 4] }, { xs: [9] }],
    ["nested", { p: { q: [{ r: 1 }, { r: 2 }] } }, { p: { q: [{ r: 1 }, { r: 5, s: "x" }] } }],
    ["type changes", { a: [1], b: { c: 1 }, d: null }, { a: { 0: 1 }, b: [1], d: { e: 1 } }],
    ["from undefined", undefined, { a: 1 }],
  ]
  for (const [name, before, after] of cases)
    test(name, () => {
      const ops = diff(before, after)
      expect(applyPatch(before, ops)).toEqual(after)
    })

  test("unchanged subtrees cost nothing and keep their identity", () => {
    const shared = { big: Array.from({ length: 1000 }, (_, i) => i) }
    const before = { shared, n: 1 }
    const after = { shared, n: 2 }
    expect(diff(before, after)).toEqual([{ p: ["n"], v: 2 }])
    const patched = applyPatch(before, diff(before, after))
    expect(patched.shared).toBe(shared)
    expect(before.n).toBe(1)
  })
})
