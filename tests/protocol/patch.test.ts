import { describe, expect, test } from "bun:test"
import { type PatchOp, applyPatch, diff } from "../../framework/protocol/index.ts"

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

  test("a frame of many ops copies each container once and touches neither its input nor its ops' values", () => {
    const deepFreeze = <T>(x: T): T => {
      if (typeof x === "object" && x !== null) for (const v of Object.values(x)) deepFreeze(v)
      return Object.freeze(x)
    }
    const players = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`p${i}`, { count: 0 }]))
    const before = deepFreeze({ players, total: 0, untouched: { a: 1 } })
    // 80 ops: past the short list, into the Set; an op's value is then patched by a later op.
    const given = deepFreeze({ b: 1 })
    const ops = [
      ...Array.from({ length: 80 }, (_, i) => ({ p: ["players", `p${i % 100}`, "count"], v: i })),
      { p: ["given"], v: given },
      { p: ["given", "c"], v: 2 },
      { p: ["total"], v: 80 },
    ]
    const after = applyPatch(before, ops) as any
    expect(after.players.p0.count).toBe(0)
    expect(after.players.p79.count).toBe(79)
    expect(after.players.p99).toBe(before.players.p99)
    expect(after.players).not.toBe(before.players)
    expect(after.untouched).toBe(before.untouched)
    expect(after.given).toEqual({ b: 1, c: 2 })
    expect(given).toEqual({ b: 1 })
    expect(before.players.p5?.count).toBe(0)
    expect(after.total).toBe(80)
  })
})

/** mulberry32: a tiny seeded generator, so a failing case is reproducible from its seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }
// Keys that trip naive code: array-like names, prototype names, odd characters.
const KEYS = ["a", "b", "c", "id", "length", "0", "1", "__proto__", "constructor", "toString", "hasOwnProperty", "x y", "ü", ""]

function gen(r: () => number, depth: number): Json {
  const int = (n: number) => Math.floor(r() * n)
  const roll = r()
  if (depth >= 4 || roll < 0.4) {
    const scalars: Json[] = [null, true, false, 0, 1, -7, 3.25, 1e21, "", "s", "length", int(1000)]
    return scalars[int(scalars.length)] as Json
  }
  if (roll < 0.7) return Array.from({ length: int(5) }, () => gen(r, depth + 1))
  // fromEntries defines own keys, "__proto__" included, as JSON.parse does.
  return Object.fromEntries(Array.from({ length: int(5) }, () => [KEYS[int(KEYS.length)] as string, gen(r, depth + 1)]))
}

/** The next version of `value` the way a draft makes it: changed paths copied, the rest shared. */
function mutate(r: () => number, value: Json, depth: number): Json {
  const int = (n: number) => Math.floor(r() * n)
  const roll = r()
  if (roll < 0.35) return value
  if (roll < 0.5 || value === null || typeof value !== "object") return gen(r, depth)
  if (Array.isArray(value)) {
    const out = value.map((x) => (r() < 0.3 ? mutate(r, x, depth + 1) : x))
    const edit = r()
    if (edit < 0.25) out.push(gen(r, depth + 1))
    else if (edit < 0.45) out.length = int(out.length + 1)
    else if (edit < 0.6 && out.length > 0) out.splice(int(out.length), 1)
    return out
  }
  const entries = Object.entries(value)
    .filter(() => r() > 0.2)
    .map(([k, x]): [string, Json] => [k, r() < 0.3 ? mutate(r, x, depth + 1) : x])
  if (r() < 0.4) entries.push([KEYS[int(KEYS.length)] as string, gen(r, depth + 1)])
  return Object.fromEntries(entries)
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const x of Object.values(value)) deepFreeze(x)
  }
  return value
}

/** Every container of the result is a plain object or array: no key turned into a prototype. */
function expectPlain(value: unknown): void {
  if (value === null || typeof value !== "object") return
  expect([Object.prototype, Array.prototype]).toContain(Object.getPrototypeOf(value))
  for (const x of Object.values(value)) expectPlain(x)
}

/** A subtree `next` shares with `prev` keeps its identity in the patched result. */
function expectShared(prev: unknown, next: unknown, out: unknown): void {
  if (prev === next) {
    expect(out).toBe(prev)
    return
  }
  if (!prev || !next || typeof prev !== "object" || typeof next !== "object" || Array.isArray(prev) !== Array.isArray(next)) return
  const p = prev as Record<string, unknown>
  const n = next as Record<string, unknown>
  const o = out as Record<string, unknown>
  for (const k of Object.keys(n)) if (Object.hasOwn(p, k)) expectShared(p[k], n[k], o[k])
}

describe("diff / applyPatch: random JSON trees (seeded)", () => {
  const CASES = 400

  test("edited trees round-trip, the input is never mutated, shared subtrees keep their identity", () => {
    const r = seeded(0xba7011)
    for (let i = 0; i < CASES; i++) {
      const prev = deepFreeze(gen(r, 0))
      const next = mutate(r, prev, 0)
      const before = JSON.stringify(prev)
      const ops = diff(prev, next)
      // A frozen input makes any write throw: applyPatch copies instead.
      const out = applyPatch(prev, ops)
      expect(JSON.stringify(prev)).toBe(before)
      expect(out).toEqual(next)
      expectPlain(out)
      expectShared(prev, next, out)
      // What players receive is JSON: the ops survive the trip.
      expect(applyPatch(prev, JSON.parse(JSON.stringify(ops)))).toEqual(next)
      expect(diff(next, next)).toEqual([])
      expect(diff(prev, JSON.parse(before))).toEqual([])
    }
  })

  test("unrelated trees round-trip", () => {
    const r = seeded(42)
    for (let i = 0; i < CASES; i++) {
      const prev = deepFreeze(gen(r, 0))
      const next = gen(r, 0)
      const before = JSON.stringify(prev)
      const out = applyPatch(prev, diff(prev, next))
      expect(out).toEqual(next)
      expectPlain(out)
      expect(JSON.stringify(prev)).toBe(before)
    }
  })

  test("a client following a chain of patches stays equal to the server", () => {
    const r = seeded(7)
    for (let game = 0; game < 40; game++) {
      let server = gen(r, 0)
      let client = deepFreeze(JSON.parse(JSON.stringify(server)) as Json)
      for (let step = 0; step < 15; step++) {
        const next = mutate(r, server, 0)
        client = deepFreeze(applyPatch(client, JSON.parse(JSON.stringify(diff(server, next)))))
        server = next
        expect(client).toEqual(server)
      }
    }
  })

  test("a __proto__ key is data, never a prototype", () => {
    const prev = JSON.parse('{"a":1,"o":{}}')
    const next = JSON.parse('{"a":1,"__proto__":{"polluted":true},"o":{"__proto__":[1]}}')
    const out = applyPatch(prev, diff(prev, next)) as Record<string, unknown>
    expect(out).toEqual(next)
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype)
    expect(out.polluted).toBeUndefined()
    expect(Object.keys(out).sort()).toEqual(["__proto__", "a", "o"])
    const back = applyPatch(out, diff(out, prev))
    expect(back).toEqual(prev)
    expect(Object.keys(back).sort()).toEqual(["a", "o"])
  })
})

/** The obvious applyPatch: every op copies its whole path afresh. What applyPatch must equal, however it saves copies. */
function referencePatch(root: unknown, ops: readonly PatchOp[]): unknown {
  const setOwn = (obj: any, key: string | number, value: unknown) =>
    key === "__proto__" ? Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true }) : (obj[key] = value)
  const one = (node: unknown, op: PatchOp, depth: number): unknown => {
    if (depth === op.p.length) return "x" in op ? undefined : op.v
    const key = op.p[depth] as string | number
    const copy: any = Array.isArray(node) ? node.slice() : node !== null && typeof node === "object" ? { ...node } : typeof key === "number" ? [] : {}
    if (depth < op.p.length - 1) setOwn(copy, key, one(Object.hasOwn(copy, key) ? copy[key] : undefined, op, depth + 1))
    else if ("x" in op) Array.isArray(copy) ? copy.splice(Number(key), 1) : delete copy[key]
    else if (key === "length" && Array.isArray(copy)) copy.length = op.v as number
    else setOwn(copy, key, op.v)
    return copy
  }
  let out = root
  for (const op of ops) out = one(out, op, 0)
  return out
}

/**
 * Ops in any order, not only diff's depth-first one: each goes down a path of
 * the tree as the ops before it left it (sometimes off it, or through a
 * scalar), and sets a value, deletes, or truncates an array. Under an op's
 * freshly set value, later ops must copy it, never write into it.
 */
function randomOps(r: () => number, root: Json, count: number): PatchOp[] {
  const int = (n: number) => Math.floor(r() * n)
  const ops: PatchOp[] = []
  let state: unknown = root
  for (let i = 0; i < count; i++) {
    const path: (string | number)[] = []
    let node: unknown = state
    while (r() < 0.75) {
      let key: string | number
      // An array's "length" is only ever set to a number (diff's truncation): no path goes through it.
      if (Array.isArray(node)) key = int(node.length + 1)
      else if (node !== null && typeof node === "object" && r() < 0.7 && Object.keys(node).length) {
        const ks = Object.keys(node)
        key = ks[int(ks.length)] as string
      } else key = r() < 0.2 ? int(3) : (KEYS[int(KEYS.length)] as string)
      path.push(key)
      node = node !== null && typeof node === "object" && Object.hasOwn(node, key) ? (node as Record<string, unknown>)[key] : undefined
    }
    const roll = r()
    const op: PatchOp =
      roll < 0.15 && path.length ? { p: path, x: 1 } : roll < 0.22 && Array.isArray(node) ? { p: [...path, "length"], v: int(node.length + 1) } : { p: path, v: deepFreeze(gen(r, 2)) }
    ops.push(op)
    state = referencePatch(state, [op])
  }
  return ops
}

/** Containers of `out` that are the very objects of `prev` sit where they sat in `prev` (nothing moved them without a copy). */
function collect(value: unknown, into: Set<unknown>): Set<unknown> {
  if (value !== null && typeof value === "object") {
    into.add(value)
    for (const x of Object.values(value)) collect(x, into)
  }
  return into
}

describe("applyPatch: ops in any order (seeded)", () => {
  test("equals copying each op's whole path, mutates neither the input nor the ops, and leaves untouched subtrees shared", () => {
    const r = seeded(0x5eed)
    for (let i = 0; i < 600; i++) {
      const prev = deepFreeze(gen(r, 0))
      const ops = randomOps(r, prev, 1 + Math.floor(r() * 12))
      deepFreeze(ops)
      const before = JSON.stringify(prev)
      const out = applyPatch(prev, ops)
      const expected = referencePatch(prev, ops)
      expect(out).toEqual(expected as Json)
      expectPlain(out)
      expect(JSON.stringify(prev)).toBe(before)
      // Whatever the reference shares with the input (untouched subtrees), applyPatch shares too; and it never keeps
      // an input container the reference had to copy.
      const fromInput = collect(prev, new Set())
      const sharedByReference = [...collect(expected, new Set())].filter((x) => fromInput.has(x))
      const sharedHere = [...collect(out, new Set())].filter((x) => fromInput.has(x))
      expect(new Set(sharedHere)).toEqual(new Set(sharedByReference))
    }
  })

  test("ops that come back to a container (not diff's order) are applied right, and the rest stays shared", () => {
    const players = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`p${i}`, { count: i }]))
    const before = deepFreeze({ total: 0, players })
    const interleaved: PatchOp[] = []
    for (let i = 0; i < 20; i++) interleaved.push({ p: ["players", `p${i}`, "count"], v: -i }, { p: ["total"], v: i })
    const out = applyPatch(before, interleaved) as typeof before
    expect(out).toEqual(referencePatch(before, interleaved) as typeof before)
    expect(out.players.p30).toBe(players.p30)
    expect(out.players.p19?.count).toBe(-19)
    expect(out.total).toBe(19)
  })
})
