import { afterEach, describe, expect, test } from "bun:test"
import { intrinsicsPolluted } from "../../framework/server/intrinsics.ts"

const original = Object.prototype.toString
afterEach(() => {
  Object.prototype.toString = original
  delete (Object.prototype as { count?: unknown }).count
})

describe("what /healthz checks of the shared prototypes", () => {
  test("intact, it is quiet", () => {
    expect(intrinsicsPolluted()).toBe(false)
  })

  test("a property added to Object.prototype is noticed", () => {
    ;(Object.prototype as { count?: unknown }).count = 1
    expect(intrinsicsPolluted()).toBe(true)
  })

  test("an inherited method replaced (no key added) is noticed too", () => {
    Object.prototype.toString = () => "pwned"
    expect(intrinsicsPolluted()).toBe(true)
    Object.prototype.toString = original
    expect(intrinsicsPolluted()).toBe(false)
  })
})
