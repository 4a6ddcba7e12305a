import { ImmutableString } from "@automerge/automerge"
import type { PatchOp } from "../protocol/index.ts"

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

/** Applies our diff ops to a value inside `handle.change(...)`. */
export function applyOpsToDoc(root: any, ops: readonly PatchOp[]): void {
  for (const op of ops) {
    if (op.p.length === 0) throw new Error("cannot replace a document root")
    let parent = root
    for (let i = 0; i < op.p.length - 1; i++) parent = parent[op.p[i] as string | number]
    const key = op.p[op.p.length - 1] as string | number
    if ("x" in op) {
      if (Array.isArray(parent)) parent.splice(Number(key), 1)
      else delete parent[key]
    } else if (Array.isArray(parent) && key === "length") {
      const len = op.v as number
      if (len < parent.length) parent.splice(len, parent.length - len)
    } else if (Array.isArray(parent) && typeof key === "number" && key >= parent.length) {
      parent.push(toAutomerge(op.v))
    } else if (op.v === undefined) {
      delete parent[key]
    } else {
      parent[key] = toAutomerge(op.v)
    }
  }
}
