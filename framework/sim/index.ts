/**
 * The cluster simulator: whole clusters of real nodes (real game modules,
 * runtime, automerge-repo and client SDK) in one process, on a seeded
 * scheduler with virtual time and a simulated network, with faults drawn
 * from the seed and the invariants checked at the end. `bun run sim`.
 */
export { runSeed, timedRun, ALL_FAULTS, type FaultKind, type RunOptions, type RunResult } from "./run.ts"
export type { Violation } from "./check.ts"
export { Scheduler } from "./scheduler.ts"
export { SimNetwork } from "./network.ts"
export { Random } from "./random.ts"
