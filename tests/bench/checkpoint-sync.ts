/**
 * What one checkpoint costs once a replica follows the document: an owner's
 * Repo and a replica's, in one process, linked by Baton's sync adapter over
 * an in-memory link. Each round appends one log entry (as a checkpoint
 * does) and waits until the replica holds it, then past automerge-repo's
 * 100 ms sync throttle, as checkpoints are spaced.
 *
 * cpuMsPerCheckpoint is the whole process's CPU (every thread: JSC's JIT
 * and mimalloc's scavenger run beside the JS thread), less what the same
 * loop costs without a change; automergeChangeMs is automerge alone making
 * the same change on a plain document, for scale.
 *
 *   bun tests/bench/checkpoint-sync.ts [checkpoints] [entry bytes]   (default 100 3000)
 */
import * as A from "@automerge/automerge"
import { type DocHandle, type PeerId, Repo } from "@automerge/automerge-repo"
import { LinkSyncAdapter } from "../../framework/cluster/sync-adapter.ts"
import { memoryLinkPair } from "../support/memory-links.ts"
import { waitUntil } from "../support/wait.ts"

type Doc = { v: number; base: string; log: string[] }

const rounds = Number(process.argv[2] ?? 100)
const entryBytes = Number(process.argv[3] ?? 3000)
const SPACING_MS = 120

const share = { announce: async () => true, access: async () => true }
const ownerNet = new LinkSyncAdapter({})
const replicaNet = new LinkSyncAdapter({})
const owner = new Repo({ network: [ownerNet], peerId: "owner" as PeerId, shareConfig: share })
const replica = new Repo({ network: [replicaNet], peerId: "replica" as PeerId, shareConfig: share })
await Promise.all([ownerNet.whenReady(), replicaNet.whenReady()])
const [dialled, accepted] = memoryLinkPair()
dialled.handlers = ownerNet.attach("replica", dialled, "dialer")
accepted.handlers = replicaNet.attach("owner", accepted, "acceptor")

const handle = owner.create<Doc>({ v: 2, base: "x".repeat(2000), log: [] })
const follower = await replica.find<Doc>(handle.url)
const headsOf = (h: DocHandle<Doc>) => h.heads().join()
const synced = () => waitUntil(() => headsOf(follower) === headsOf(handle), "the replica holds the checkpoint", { timeoutMs: 10_000, everyMs: 1 })
await synced()

let frames = 0
for (const link of [dialled, accepted]) {
  const send = link.send.bind(link)
  link.send = (data) => (frames++, send(data))
}

const entry = (i: number) => JSON.stringify({ rev: i, at: Date.now(), ops: [{ p: ["state", "count"], v: i }, { p: ["clients"], v: "y".repeat(entryBytes) }] })

/** CPU ms per round of the loop, with or without the change. */
async function loop(change: boolean): Promise<{ cpuMs: number; wallMs: number }> {
  const cpu = process.cpuUsage()
  const started = performance.now()
  for (let i = 0; i < rounds; i++) {
    if (change) handle.change((d) => void d.log.push(new A.ImmutableString(entry(i)) as unknown as string))
    await synced()
    await Bun.sleep(SPACING_MS)
  }
  const used = process.cpuUsage(cpu)
  return { cpuMs: (used.user + used.system) / 1000 / rounds, wallMs: (performance.now() - started) / rounds }
}

function automergeAlone(): number {
  let doc = A.from<Doc>({ v: 2, base: "x".repeat(2000), log: [] })
  for (let i = 0; i < 20; i++) doc = A.change(doc, (d) => void d.log.push(new A.ImmutableString(entry(i)) as unknown as string))
  const started = performance.now()
  for (let i = 0; i < rounds; i++) doc = A.change(doc, (d) => void d.log.push(new A.ImmutableString(entry(i)) as unknown as string))
  return (performance.now() - started) / rounds
}

await loop(true) // warm-up: JIT, wasm tiers
frames = 0
const withChange = await loop(true)
const framesPerCheckpoint = frames / rounds
const idle = await loop(false)
console.log(
  JSON.stringify({
    checkpoints: rounds,
    entryBytes,
    cpuMsPerCheckpoint: +(withChange.cpuMs - idle.cpuMs).toFixed(3),
    idleLoopCpuMs: +idle.cpuMs.toFixed(3),
    framesPerCheckpoint: +framesPerCheckpoint.toFixed(2),
    automergeChangeMs: +automergeAlone().toFixed(3),
  }),
)
process.exit(0)
