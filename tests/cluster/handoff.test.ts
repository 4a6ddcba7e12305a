import { describe, expect, test } from "bun:test"
import { movesInFlight } from "../../framework/cluster/handoff.ts"

describe("how many moves a drain runs at once", () => {
  test("one while that finishes in time: a handful of sessions move one after another", () => {
    expect(movesInFlight(7, 50, 1_000, 8)).toBe(1)
    expect(movesInFlight(20, 50, 1_000, 8)).toBe(1)
    expect(movesInFlight(1, 500, 1_000, 8)).toBe(1)
  })

  test("more when one at a time would not finish in time, never more than the maximum", () => {
    expect(movesInFlight(100, 30, 1_000, 8)).toBe(3)
    expect(movesInFlight(100, 30, 500, 8)).toBe(6)
    expect(movesInFlight(1_000, 20, 1_000, 8)).toBe(8)
  })

  test("past the time aimed at, the maximum: a late drain is not slowed further", () => {
    expect(movesInFlight(10, 20, 0, 8)).toBe(4)
    expect(movesInFlight(10, 20, -500, 8)).toBe(4)
    expect(movesInFlight(100, 20, -500, 8)).toBe(8)
  })
})
