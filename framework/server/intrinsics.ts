// The objects every value inherits from, and their own properties as the node started.
const INTRINSICS: readonly object[] = [Object.prototype, Array.prototype, Function.prototype, String.prototype, Object]

type Shape = Map<PropertyKey, unknown>
/** Each own property's value, or its getter and setter: what a write through an inherited name replaces. */
function shapeOf(o: object): Shape {
  const out: Shape = new Map()
  for (const key of Reflect.ownKeys(o)) {
    const d = Reflect.getOwnPropertyDescriptor(o, key)
    out.set(key, d && ("value" in d ? d.value : [d.get, d.set]))
  }
  return out
}
const sameShape = (a: Shape, b: Shape) =>
  a.size === b.size && [...a].every(([k, v]) => b.has(k) && (Array.isArray(v) ? Array.isArray(b.get(k)) && v.every((f, i) => f === (b.get(k) as unknown[])[i]) : b.get(k) === v))
const starting = INTRINSICS.map(shapeOf)

/**
 * True when a shared prototype gained, lost or replaced a property since the
 * node started: a prototype-pollution bug got through (game code writing
 * through an inherited name). Nothing on such a node can be trusted, so
 * /healthz fails and the orchestrator restarts it; its sessions move as
 * after a crash.
 */
export function intrinsicsPolluted(): boolean {
  return INTRINSICS.some((o, i) => !sameShape(starting[i] as Shape, shapeOf(o)))
}
