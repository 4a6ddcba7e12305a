import { describe, expect, test } from "bun:test"
import { GameLoadError, v } from "batonjs"
import { explainIssues } from "../../framework/game/errors.ts"

const issuesOf = (schema: v.GenericSchema, value: unknown) => {
  const out = v.safeParse(schema, value)
  if (out.success) throw new Error("expected issues")
  return out.issues
}

describe("explainIssues", () => {
  test("names the field of each issue, nested paths with dots", () => {
    const schema = v.object({ cell: v.pipe(v.number(), v.maxValue(8)), pos: v.object({ x: v.number() }), tags: v.array(v.string()) })
    const text = explainIssues(issuesOf(schema, { cell: 9, pos: { x: "1" }, tags: ["a", 2] }))
    expect(text.split("; ")).toEqual([
      expect.stringMatching(/^cell: .*8.*9/),
      expect.stringMatching(/^pos\.x: /),
      expect.stringMatching(/^tags\.1: /),
    ])
  })

  test("an issue without a path is its message alone", () => {
    expect(explainIssues(issuesOf(v.number(), "x"))).toBe(issuesOf(v.number(), "x")[0]?.message as string)
  })

  test("at most five issues", () => {
    const schema = v.object(Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`f${i}`, v.number()])))
    const text = explainIssues(issuesOf(schema, {}))
    expect(text.split("; ").map((part) => part.split(":")[0])).toEqual(["f0", "f1", "f2", "f3", "f4"])
  })
})

describe("GameLoadError", () => {
  test("carries a code and is recognisable", () => {
    const e = new GameLoadError("no_migration", "no way")
    expect(e).toBeInstanceOf(Error)
    expect(e.name).toBe("GameLoadError")
    expect(e.code).toBe("no_migration")
    expect(e.message).toBe("no way")
  })
})
