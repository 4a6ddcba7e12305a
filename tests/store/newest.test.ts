import { describe, expect, test } from "bun:test"
import { newerCopy, newestCopy } from "../../framework/store/index.ts"

describe("which copy of a session is newest (store/newest.ts, the one rule)", () => {
  test("a higher epoch wins whatever the revisions; within an epoch the higher revision", () => {
    expect(newerCopy({ epoch: 3, rev: 1 }, { epoch: 2, rev: 90 })).toBe(true)
    expect(newerCopy({ epoch: 2, rev: 90 }, { epoch: 3, rev: 1 })).toBe(false)
    expect(newerCopy({ epoch: 2, rev: 5 }, { epoch: 2, rev: 4 })).toBe(true)
    expect(newerCopy({ epoch: 2, rev: 4 }, { epoch: 2, rev: 4 })).toBe(false)
    expect(newerCopy({ epoch: 1, rev: 0 }, undefined)).toBe(true)
  })

  test("at one epoch and revision the streamed copy wins over a checkpointed one, and not the other way", () => {
    expect(newerCopy({ epoch: 2, rev: 4, streamed: true }, { epoch: 2, rev: 4, streamed: false })).toBe(true)
    expect(newerCopy({ epoch: 2, rev: 4 }, { epoch: 2, rev: 4, streamed: true })).toBe(false)
    const copies = [
      { id: "doc", epoch: 2, rev: 7 },
      { id: "shadow", epoch: 2, rev: 7, streamed: true },
      { id: "old", epoch: 1, rev: 40, streamed: true },
    ]
    expect(newestCopy(copies)?.id).toBe("shadow")
    expect(newestCopy([])).toBeUndefined()
  })
})
