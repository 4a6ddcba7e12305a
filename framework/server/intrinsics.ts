// The objects every value inherits from, and how many own keys each had when the node started.
const INTRINSICS: readonly object[] = [Object.prototype, Array.prototype, Function.prototype, String.prototype, Object]
const startingKeys = INTRINSICS.map((o) => Reflect.ownKeys(o).length)

/**
 * True when a shared prototype gained a key since the node started: a
 * prototype-pollution bug got through (game code writing through an
 * inherited name). Nothing on such a node can be trusted, so /healthz fails
 * and the orchestrator restarts it; its sessions move as after a crash.
 */
export function intrinsicsPolluted(): boolean {
  return INTRINSICS.some((o, i) => Reflect.ownKeys(o).length !== startingKeys[i])
}
