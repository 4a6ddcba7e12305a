/**
 * Structural diff of JSON values. Unchanged subtrees are skipped by reference
 * (the runtime's drafts share them), so a diff costs what changed, not the
 * size of the state. The same ops feed player deltas and automerge
 * checkpoints.
 */
export type Path = (string | number)[]

/** Set `v` at `p`; or delete the key at `p` (`x`); `p` ending in "length" truncates an array. */
export type PatchOp = { p: Path; v: unknown } | { p: Path; x: 1 }

export function diff(prev: unknown, next: unknown, path: Path = [], out: PatchOp[] = []): PatchOp[] {
  if (prev === next) return out
  if (!isContainer(prev) || !isContainer(next) || Array.isArray(prev) !== Array.isArray(next)) {
    if (!(typeof prev === "number" && typeof next === "number" && Number.isNaN(prev) && Number.isNaN(next)))
      out.push({ p: path, v: next })
    return out
  }
  if (Array.isArray(prev)) {
    const a = prev as unknown[]
    const b = next as unknown[]
    // A shrunken array is truncated first so that later index sets stay in range.
    if (b.length < a.length) out.push({ p: [...path, "length"], v: b.length })
    for (let i = 0; i < b.length; i++) {
      if (i >= a.length) out.push({ p: [...path, i], v: b[i] })
      else diff(a[i], b[i], [...path, i], out)
    }
    return out
  }
  const a = prev as Record<string, unknown>
  const b = next as Record<string, unknown>
  for (const k in a) if (Object.hasOwn(a, k) && !Object.hasOwn(b, k)) out.push({ p: [...path, k], x: 1 })
  for (const k in b) {
    if (!Object.hasOwn(b, k)) continue
    if (!Object.hasOwn(a, k)) out.push({ p: [...path, k], v: b[k] })
    else diff(a[k], b[k], [...path, k], out)
  }
  return out
}

/**
 * Applies ops without touching `root`: every object on a changed path is
 * copied, the rest is shared, so UI frameworks see new references exactly
 * where something changed. A container is copied once per call however many
 * ops touch it: a frame of 30 ops on a 100-player map copies the map once,
 * not 30 times (which made a crowded session's client quadratic).
 */
export function applyPatch<T>(root: T, ops: readonly PatchOp[]): T {
  const fresh = new Copies()
  let out: unknown = root
  for (const op of ops) out = applyOne(out, op, 0, fresh)
  return out as T
}

function applyOne(node: unknown, op: PatchOp, depth: number, fresh: Copies): unknown {
  if (depth === op.p.length) return "x" in op ? undefined : op.v
  const key = op.p[depth] as string | number
  let copy: any
  if (isContainer(node) && fresh.has(node)) copy = node
  else {
    copy = Array.isArray(node) ? node.slice() : isContainer(node) ? { ...node } : typeof key === "number" ? [] : {}
    fresh.add(copy)
  }
  if (depth === op.p.length - 1) {
    if ("x" in op) {
      if (Array.isArray(copy)) copy.splice(Number(key), 1)
      else delete copy[key]
    } else if (key === "length" && Array.isArray(copy)) copy.length = op.v as number
    else setKey(copy, key, op.v)
    return copy
  }
  setKey(copy, key, applyOne(Object.hasOwn(copy, key) ? copy[key] : undefined, op, depth + 1, fresh))
  return copy
}

/** The containers one applyPatch call made: a short list while few (V8 hashes a Set's objects slowly), a Set past that. */
class Copies {
  #few: object[] = []
  #many: Set<object> | undefined
  has(x: object): boolean {
    return this.#many ? this.#many.has(x) : this.#few.includes(x)
  }
  add(x: object): void {
    if (this.#many) this.#many.add(x)
    else if (this.#few.length < 32) this.#few.push(x)
    else this.#many = new Set([...this.#few, x])
  }
}

/** `obj[key] = value`, but a "__proto__" key stays an own key (as JSON.parse makes it) instead of replacing the prototype. */
function setKey(obj: any, key: string | number, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true })
  else obj[key] = value
}

function isContainer(x: unknown): x is object {
  return typeof x === "object" && x !== null
}
