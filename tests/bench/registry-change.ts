/**
 * What one registry change costs as the cluster's session count grows.
 * automerge's JS side copies a changed map whole: with one entry per session
 * at the root (the layout before buckets, "flat"), a change costs time in
 * proportion to the sessions; spread over 256 buckets it does not.
 * registryMsPerWrite is the registry itself (framework/store/registry.ts,
 * through automerge-repo): one patch and flush, as a handoff writes.
 * fullLookMs is one look at every entry (see fullLook).
 *
 *   bun tests/bench/registry-change.ts [sessions...]   (default 2000 10000 30000)
 */
import * as A from "@automerge/automerge"
import { Repo } from "@automerge/automerge-repo"
import { toAutomerge } from "../../framework/store/automerge-json.ts"
import { Registry } from "../../framework/store/registry.ts"

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

/** ms per patch and flush of one entry's owner and epoch through the Registry. */
async function perRegistryWrite(sessions: number): Promise<number> {
  const repo = new Repo({ network: [] })
  const registry = await Registry.open(repo, "bench", "n1", undefined, Date.now)
  for (let i = 0; i < sessions; i++) registry.set(`s${i}`, { game: "counter", doc: "automerge:2Vx5qTnsfY8n6RmyPMN7zW3ek4jU" as never, owner: "n1", epoch: 1, status: "open", updatedAt: 0 })
  registry.flush()
  const started = performance.now()
  for (let k = 0; k < CHANGES; k++) {
    registry.patch(`s${(k * 7919) % sessions}`, { owner: `n${k}`, epoch: k + 2 })
    registry.flush()
  }
  const ms = (performance.now() - started) / CHANGES
  await repo.shutdown()
  return Math.round(ms * 1000) / 1000
}

/**
 * ms for one look at every entry, the work the replica follower did on every
 * registry change before it followed the changed ids only (it still does it
 * at start and when members change): copy the entries, map documents to
 * sessions, check each against its replica set.
 */
async function fullLook(sessions: number): Promise<number> {
  const repo = new Repo({ network: [] })
  const registry = await Registry.open(repo, "bench", "n1", undefined, Date.now)
  for (let i = 0; i < sessions; i++) registry.set(`s${i}`, { game: "counter", doc: `automerge:2Vx5qTnsfY8n6RmyPMN7zW${i}` as never, owner: i % 3 ? "n2" : "n1", epoch: 1, status: "open", updatedAt: 0 })
  registry.flush()
  const replicaSets = new Map(Array.from({ length: sessions }, (_, i) => [`s${i}`, ["n2", "n1"]]))
  const looks = 10
  let mine = 0
  const started = performance.now()
  for (let k = 0; k < looks; k++) {
    const entries = registry.entries()
    const docs = new Map(entries.map(([id, e]) => [e.doc.replace(/^automerge:/, ""), id]))
    for (const [id, e] of entries) if (e.owner !== "n1" && replicaSets.get(id)?.includes("n1")) mine++
    if (docs.size !== sessions || mine === 0) throw new Error("the look saw the wrong entries")
  }
  const ms = (performance.now() - started) / looks
  await repo.shutdown()
  return Math.round(ms * 10) / 10
}

if (import.meta.main) {
  const sizes = process.argv.slice(2).map(Number)
  for (const sessions of sizes.length ? sizes : [2000, 10_000, 30_000])
    console.log(
      JSON.stringify({
        sessions,
        flatMsPerChange: perChange(sessions, false),
        bucketedMsPerChange: perChange(sessions, true),
        registryMsPerWrite: await perRegistryWrite(sessions),
        fullLookMs: await fullLook(sessions),
      }),
    )
}
