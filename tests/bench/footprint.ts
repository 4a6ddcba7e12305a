/**
 * Footprint: resident memory per idle session (1,000 sessions on one node),
 * and the size of one session's automerge document after many actions
 * (bounded by compaction, however many).
 *
 *   bun tests/bench/footprint.ts [sessions=1000] [actions=100000]
 */
import { Session } from "batonjs"
import counter from "../../app/games/counter.ts"
import { Store } from "../../framework/store/index.ts"
import { startNodeProcess } from "../support/node-process.ts"

export async function idleRss(sessions: number): Promise<{ sessions: number; rssBeforeMb: number; rssAfterMb: number; kbPerSession: number }> {
  const node = await startNodeProcess()
  try {
    const rss = async () => Number(/VmRSS:\s+(\d+)/.exec(await Bun.file(`/proc/${node.proc.pid}/status`).text())?.[1] ?? 0)
    // Warm the paths a session uses, so the baseline includes the code, not just an empty process.
    for (let i = 0; i < 20; i++) await fetch(`${node.url}/sessions`, { method: "POST", body: JSON.stringify({ game: "counter" }) })
    await Bun.sleep(500)
    const before = await rss()
    for (let i = 0; i < sessions; i += 50)
      await Promise.all(Array.from({ length: 50 }, () => fetch(`${node.url}/sessions`, { method: "POST", body: JSON.stringify({ game: "counter" }) })))
    await Bun.sleep(1500) // checkpoints written
    const after = await rss()
    return { sessions, rssBeforeMb: Math.round(before / 1024), rssAfterMb: Math.round(after / 1024), kbPerSession: Math.round(((after - before) / sessions) * 10) / 10 }
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
  console.log(JSON.stringify(await idleRss(Number(process.argv[2] ?? 1000))))
  console.log(JSON.stringify(await documentSize(Number(process.argv[3] ?? 100_000))))
}
