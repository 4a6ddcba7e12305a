import { describe, expect, test } from "bun:test"
import { type Pending, PendingActions } from "../../framework/client/pending.ts"

const action = (id: number): Pending => ({ id, frame: `{"t":"act","id":${id}}`, resolve() {}, reject() {} })

describe("PendingActions", () => {
  test("the newest pending id, whichever order the answers come in", () => {
    const pending = new PendingActions()
    expect(pending.newest()).toBe(0)
    for (const id of [1, 2, 3]) pending.add(action(id))
    expect(pending.newest()).toBe(3)
    pending.delete(1)
    expect(pending.newest()).toBe(3)
    // The newest answered first (a refusal comes at once): the one before it is the newest now.
    pending.delete(3)
    expect(pending.newest()).toBe(2)
    pending.add(action(4))
    expect(pending.newest()).toBe(4)
    pending.delete(4)
    pending.delete(2)
    expect(pending.newest()).toBe(0)
    expect(pending.size).toBe(0)
    // An id answered twice (a repeat from the ledger) changes nothing.
    pending.add(action(5))
    pending.delete(4)
    expect(pending.newest()).toBe(5)
  })

  test("the one pending before an id, and the order of a resend", () => {
    const pending = new PendingActions()
    for (const id of [2, 5, 9]) pending.add(action(id))
    expect(pending.before(9)).toBe(5)
    expect(pending.before(5)).toBe(2)
    expect(pending.before(2)).toBe(0)
    expect([...pending.values()].map((p) => p.id)).toEqual([2, 5, 9])
    pending.clear()
    expect(pending.newest()).toBe(0)
    expect(pending.has(5)).toBe(false)
  })
})
