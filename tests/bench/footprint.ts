/**
 * Footprint: resident memory per idle session (1,000 sessions on one node),
 * and the size of one session's automerge document after many actions
 * (bounded by compaction, however many).
 *
 * Two kinds of idle session: created and never played (its document starts
 * parked: its saved bytes, no automerge-repo handle), and played once (a
 * player joins, acts and leaves: its document opens at the next checkpoint
 * and is parked again PARK_AFTER_MS later). Memory that open documents
 * took is kept by the allocators once they are parked (wasm memory never
 * shrinks), so the second figure is the high-water mark of the most
 * documents that were open at once, not what one idle session needs.
 *
 *   bun tests/bench/footprint.ts [sessions=1000] [actions=100000]
 */
import { Session } from "batonjs"
import { join } from "batonjs/client"
import counter from "../../app/games/counter.ts"
import { Store } from "../../framework/store/index.ts"
import { PARK_AFTER_MS } from "../../framework/store/parking.ts"
import { type NodeProcess, startNodeProcess } from "../support/node-process.ts"
import { waitUntil } from "../support/wait.ts"

const BATCH = 50

const create = (node: NodeProcess) => fetch(`${node.url}/sessions`, { method: "POST", body: JSON.stringify({ game: "counter" }) }).then(async (r) => ((await r.json()) as { id: string }).id)

/** A player joins the session, acts once and leaves. */
async function playOnce(node: NodeProcess, session: string): Promise<void> {
  const p = await join<typeof counter>({ url: node.url, session, player: "p1" })
  await p.act("inc", { by: 1 })
  p.close()
}

const rssKb = async (node: NodeProcess) => Number(/VmRSS:\s+(\d+)/.exec(await Bun.file(`/proc/${node.proc.pid}/status`).text())?.[1] ?? 0)

/** The node's open and parked session documents (GET /metrics). */
async function documents(node: NodeProcess): Promise<{ open: number; parked: number }> {
  const text = await (await fetch(`${node.url}/metrics`)).text()
  const gauge = (name: string) => Number(new RegExp(`^${name} (\\d+)`, "m").exec(text)?.[1] ?? Number.NaN)
  return { open: gauge("baton_documents"), parked: gauge("baton_documents_parked") }
}

const perSession = (beforeKb: number, afterKb: number, sessions: number) => Math.round(((afterKb - beforeKb) / sessions) * 10) / 10

export async function idleRss(sessions: number): Promise<{ sessions: number; rssBeforeMb: number; rssAfterMb: number; kbPerSession: number; documents: { open: number; parked: number } }> {
  const node = await startNodeProcess()
  try {
    // Warm the paths a session uses, so the baseline includes the code, not just an empty process.
    for (let i = 0; i < 20; i++) await create(node)
    await Bun.sleep(500)
    const before = await rssKb(node)
    for (let i = 0; i < sessions; i += BATCH) await Promise.all(Array.from({ length: Math.min(BATCH, sessions - i) }, () => create(node)))
    await Bun.sleep(1500) // checkpoints written
    const after = await rssKb(node)
    return { sessions, rssBeforeMb: Math.round(before / 1024), rssAfterMb: Math.round(after / 1024), kbPerSession: perSession(before, after, sessions), documents: await documents(node) }
  } finally {
    await node.kill()
  }
}

/**
 * Sessions played once each, then idle: resident memory per session when
 * the most documents were open at once (the first checkpoints open them, at
 * the pace of the checkpoint budget, and each parks PARK_AFTER_MS after its
 * last write), and once every one is parked.
 */
export async function playedIdleRss(sessions: number): Promise<{ sessions: number; mostOpen: number; kbPerSessionMostOpen: number; kbPerSessionParked: number; parkedAfterMs: number }> {
  // The node would collect sessions without players after its idle time (15 min): far off.
  const node = await startNodeProcess({ lifetimeMs: 10 * 60_000 })
  try {
    for (let i = 0; i < 20; i++) await playOnce(node, await create(node))
    await Bun.sleep(500)
    const before = await rssKb(node)
    for (let i = 0; i < sessions; i += BATCH)
      await Promise.all(Array.from({ length: Math.min(BATCH, sessions - i) }, async () => playOnce(node, await create(node))))
    const idleFrom = performance.now()
    let most = { open: 0, rss: 0 }
    await waitUntil(
      async () => {
        const d = await documents(node)
        if (d.open > most.open) most = { open: d.open, rss: await rssKb(node) }
        return d.open <= 1 && d.parked >= sessions // the registry stays open
      },
      "every played session's document is parked",
      { timeoutMs: PARK_AFTER_MS + 180_000, everyMs: 500 },
    )
    const parkedAfterMs = Math.round(performance.now() - idleFrom)
    await Bun.sleep(1500)
    return { sessions, mostOpen: most.open - 1, kbPerSessionMostOpen: perSession(before, most.rss, sessions), kbPerSessionParked: perSession(before, await rssKb(node), sessions), parkedAfterMs }
  } finally {
    await node.kill()
  }
}

/** One session, `actions` actions, a checkpoint after every 10: the document's saved size at the end. */
export async function documentSize(actions: number): Promise<{ actions: number; checkpoints: number; bytes: number; maxBytes: number }> {
  const store = await Store.open({ peerId: "bench", checkpointMs: 0 })
  const s = Session.create(counter, { id: "doc-size", now: 0 })
  s.join("p1", 0)
  s.join("p2", 0)
  store.create(s.record, "bench")
  let checkpoints = 0
  let maxBytes = 0
  for (let i = 1; i <= actions; i++) {
    s.act({ player: i % 2 ? "p1" : "p2", client: i % 2 ? "c1" : "c2", id: i, name: "inc", input: { by: 1 }, now: i })
    if (i % 10 === 0) {
      store.checkpoint(s.record)
      store.writeCheckpoints(Number.POSITIVE_INFINITY, true)
      checkpoints++
      // Sampled: the size right before a compaction is the bound, the size at the end is luck.
      if (checkpoints % 20 === 0) maxBytes = Math.max(maxBytes, store.docSize("doc-size"))
    }
  }
  const bytes = store.docSize("doc-size")
  await store.close()
  return { actions, checkpoints, bytes, maxBytes }
}

if (import.meta.main) {
  const sessions = Number(process.argv[2] ?? 1000)
  console.log(JSON.stringify(await idleRss(sessions)))
  console.log(JSON.stringify(await playedIdleRss(sessions)))
  console.log(JSON.stringify(await documentSize(Number(process.argv[3] ?? 100_000))))
}
