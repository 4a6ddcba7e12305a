/**
 * Where a step left a value in the state that JSON cannot carry, or undefined.
 *
 * The state is checkpointed and replicated as JSON: a BigInt, a Map or a
 * function in it would fail every checkpoint and every replication of the
 * session from then on (its acks never secured), and a Date or NaN would turn
 * into something else on the replica that takes the session over. So the step
 * that put it there is refused, like a step that threw.
 *
 * Only what changed is walked: mutative shares every untouched subtree with
 * the state before the step, so the cost follows the size of the change, not
 * of the state.
 */
export function jsonProblem(next: unknown, before: unknown, path = "state"): string | undefined {
  return walk(next, before, path, 0)
}

const MAX_DEPTH = 64

function walk(value: unknown, before: unknown, path: string, depth: number): string | undefined {
  if (value === before) return undefined
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined
    case "number":
      return Number.isFinite(value) ? undefined : `${path} is ${value}, which JSON turns into null`
    case "object":
      break
    default:
      return `${path} is a ${typeof value}, which JSON cannot carry`
  }
  if (value === null) return undefined
  if (depth >= MAX_DEPTH) return `${path} is nested deeper than ${MAX_DEPTH} levels (a cycle?)`
  const old = before !== null && typeof before === "object" ? (before as Record<string, unknown>) : undefined
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!(i in value) || value[i] === undefined) return `${path}[${i}] is empty, which JSON turns into null`
      const bad = walk(value[i], Array.isArray(old) ? old[i] : undefined, `${path}[${i}]`, depth + 1)
      if (bad) return bad
    }
    return undefined
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) {
    const kind = (proto as { constructor?: { name?: string } }).constructor?.name || "class instance"
    return `${path} is a ${kind}, which JSON does not keep (use plain objects, arrays, numbers and strings)`
  }
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key]
    if (item === undefined) continue // dropped by JSON on every node alike
    const bad = walk(item, old && Object.hasOwn(old, key) ? old[key] : undefined, `${path}.${key}`, depth + 1)
    if (bad) return bad
  }
  return undefined
}
