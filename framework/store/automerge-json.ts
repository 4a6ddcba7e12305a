import { ImmutableString } from "@automerge/automerge"

/**
 * Our JSON ↔ automerge: strings are stored as immutable scalars (a game
 * state's strings are ids and labels, not collaborative text, and text
 * objects cost a change per character).
 */
export function toAutomerge(value: unknown): unknown {
  if (typeof value === "string") return new ImmutableString(value)
  if (Array.isArray(value)) return value.map((x) => (x === undefined ? null : toAutomerge(x)))
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(value)) if (x !== undefined) out[k] = toAutomerge(x)
    return out
  }
  return value
}

/** Plain JSON from a document value (ImmutableString → string). */
export function fromAutomerge<T>(value: unknown): T {
  return JSON.parse(JSON.stringify(value)) as T
}
