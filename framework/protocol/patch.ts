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
 * where something changed.
 */
export function applyPatch<T>(root: T, ops: readonly PatchOp[]): T {
  let out: unknown = root
  for (const op of ops) out = applyOne(out, op, 0)
  return out as T
}

function applyOne(node: unknown, op: PatchOp, depth: number): unknown {
  if (depth === op.p.length) return "x" in op ? undefined : op.v
  const key = op.p[depth] as string | number
  const copy: any = Array.isArray(node) ? node.slice() : isContainer(node) ? { ...node } : typeof key === "number" ? [] : {}
  if (depth === op.p.length - 1) {
    if ("x" in op) {
      if (Array.isArray(copy)) copy.splice(Number(key), 1)
      else delete copy[key]
    } else if (key === "length" && Array.isArray(copy)) copy.length = op.v as number
    else setKey(copy, key, op.v)
    return copy
  }
  setKey(copy, key, applyOne(Object.hasOwn(copy, key) ? copy[key] : undefined, op, depth + 1))
  return copy
}

/** `obj[key] = value`, but a "__proto__" key stays an own key (as JSON.parse makes it) instead of replacing the prototype. */
function setKey(obj: any, key: string | number, value: unknown): void {
  if (key === "__proto__") Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true })
  else obj[key] = value
}

function isContainer(x: unknown): x is object {
  return typeof x === "object" && x !== null
}
