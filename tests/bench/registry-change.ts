/**
 * What one registry change costs as the cluster's session count grows: the
 * registry keeps one entry per session at its root (framework/store/registry.ts),
 * and automerge's JS side copies a changed map whole. Compared with the same
 * entries spread over 256 buckets.
 *
 *   bun tests/bench/registry-change.ts [sessions...]   (default 2000 10000 30000)
 */
import * as A from "@automerge/automerge"
import { toAutomerge } from "../../framework/store/automerge-json.ts"

const CHANGES = 100
const BUCKETS = 256

const entry = () => toAutomerge({ game: "counter", doc: "automerge:2Vx5qTnsfY8n6RmyPMN7zW3ek4jU", owner: "node-a", epoch: 1, status: "open", updatedAt: Date.now() })

/** ms per change that sets one entry's epoch (what a handoff or fence writes). */
function perChange(sessions: number, bucketed: boolean): number {
  const init: Record<string, unknown> = {}
  for (let i = 0; i < sessions; i++) {
    if (bucketed) ((init[`b${i % BUCKETS}`] ??= {}) as Record<string, unknown>)[`s${i}`] = entry()
    else init[`s${i}`] = entry()
  }
  let doc = A.from<Record<string, Record<string, { epoch: number }>>>(init as never)
  const started = performance.now()
  for (let k = 0; k < CHANGES; k++) {
    const i = (k * 7919) % sessions
    doc = A.change(doc, (d) => {
      const e = (bucketed ? (d[`b${i % BUCKETS}`] as unknown as Record<string, { epoch: number }>)[`s${i}`] : d[`s${i}`]) as unknown as { epoch: number }
      e.epoch = k + 2
    })
  }
  return Math.round(((performance.now() - started) / CHANGES) * 1000) / 1000
}

if (import.meta.main) {
  const sizes = process.argv.slice(2).map(Number)
  for (const sessions of sizes.length ? sizes : [2000, 10_000, 30_000])
    console.log(JSON.stringify({ sessions, flatMsPerChange: perChange(sessions, false), bucketedMsPerChange: perChange(sessions, true) }))
}
