import * as v from "valibot"
import { defineGame } from "../game/index.ts"

const v1 = v.object({ applied: v.array(v.string()), beats: v.number(), armed: v.boolean() })
const v2 = v.object({ applied: v.array(v.string()), beats: v.number(), armed: v.boolean(), count: v.number() })

/**
 * The simulator's game: its state lists every action applied, by id, so the
 * checker can find each acknowledged action exactly once; a timer beats
 * every second once the first action arrives, so the checker can see timers
 * fire wherever the session runs. Version 2 adds a counter, migrated from
 * version 1's list (the rolling deploy's state migration); later versions
 * migrate the one before unchanged.
 */
export function ledgerGame(version = 1, opts: { durability?: "replicated" | "local"; migrates?: boolean } = {}) {
  const migrate: Record<number, (old: any) => unknown> = { 1: (old: { applied: string[]; beats: number; armed: boolean }) => ({ ...old, count: old.applied.length }) }
  // Versions past 2 change nothing in the state: each migrates the one before as it is.
  for (let v = 2; v < version; v++) migrate[v] = (old: unknown) => old
  return defineGame({
    name: "ledger",
    version,
    players: { min: 1, max: 64 },
    durability: opts.durability ?? "replicated",
    state: (version === 1 ? v1 : v2) as typeof v2,
    setup: () => (version === 1 ? { applied: [], beats: 0, armed: false } : { applied: [], beats: 0, armed: false, count: 0 }) as never,
    actions: {
      add: {
        input: v.object({ id: v.pipe(v.string(), v.minLength(1), v.maxLength(64)) }),
        apply({ state, input, timers }) {
          state.applied.push(input.id)
          if (version >= 2) state.count++
          if (!state.armed) {
            state.armed = true
            timers.after(1_000, "beat")
          }
          return state.applied.length
        },
      },
    },
    timers: {
      beat({ state, timers }) {
        state.beats++
        timers.after(1_000, "beat")
      },
    },
    // Without it (migrates: false), version 2 cannot load a version-1 state: a node of each must keep its own.
    migrate: opts.migrates === false ? undefined : migrate,
  })
}
