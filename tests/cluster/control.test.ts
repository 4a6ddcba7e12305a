import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { signLink } from "../../framework/cluster/index.ts"
import { TEST_SECRET, TestCluster } from "../support/cluster.ts"
import { waitUntil } from "../support/wait.ts"

let c: TestCluster
beforeAll(async () => {
  c = await TestCluster.start(1)
})
afterAll(() => c.stopAll())

/** A hand-made peer on the node's control endpoint: it says hello (with or without caps) and records every frame. */
async function rawPeer(id: string, caps?: string[]) {
  const frames: { t: string; msgs?: { t: string; rid?: number }[]; rid?: number }[] = []
  const to = await c.idOf(c.nodes[0]!)
  const ws = new WebSocket(`${c.nodes[0]!.url.replace("http", "ws")}/cluster/control?${signLink(TEST_SECRET, { from: id, to, kind: "control" })}`)
  ws.onmessage = (e) => frames.push(JSON.parse(String(e.data)))
  await new Promise((done) => (ws.onopen = done))
  await waitUntil(() => frames.some((f) => f.t === "hello"), "the node's hello")
  ws.send(JSON.stringify({ t: "hello", id, url: "http://127.0.0.1:9", status: "ready", version: "0", sessions: 0, peers: [], ...(caps ? { caps } : {}) }))
  const answered = () => frames.flatMap((f) => (f.t === "batch" ? (f.msgs ?? []) : [f])).filter((m) => m.t === "res")
  return { ws, frames, answered }
}

const requests = (n: number) => Array.from({ length: n }, (_, i) => ({ t: "req", rid: i + 1, body: { t: "list" } }))

describe("control links", () => {
  test("a peer that reads batches gets the answers of one burst in one frame, in order", async () => {
    const p = await rawPeer("n-new", ["batch"])
    p.ws.send(JSON.stringify({ t: "batch", msgs: requests(20) }))
    await waitUntil(() => p.answered().length === 20, "20 answers")
    expect(p.answered().map((m) => m.rid)).toEqual(requests(20).map((r) => r.rid))
    // Fewer frames than answers: they were batched.
    expect(p.frames.filter((f) => f.t === "res" || f.t === "batch").length).toBeLessThan(20)
    p.ws.close()
  })

  test("a peer of an older version (no caps in its hello) gets one message per frame", async () => {
    const p = await rawPeer("n-old")
    for (const r of requests(20)) p.ws.send(JSON.stringify(r))
    await waitUntil(() => p.answered().length === 20, "20 answers")
    expect(p.frames.some((f) => f.t === "batch")).toBe(false)
    p.ws.close()
  })
})
