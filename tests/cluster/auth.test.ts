import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { resolve } from "node:path"
import { signLink } from "../../framework/cluster/index.ts"
import type { EventOf } from "../../framework/node/index.ts"
import { TEST_SECRET, TestCluster } from "../support/cluster.ts"
import { freePort, startNodeProcess } from "../support/node-process.ts"
import { waitUntil } from "../support/wait.ts"

/** Refused links are summed up per source once a window, here 1 s (10 s by default). */
const WINDOW_MS = 1_000
let c: TestCluster
let ids: string[]
beforeAll(async () => {
  c = await TestCluster.start(2, { BATON_LINK_REFUSAL_WINDOW_MS: String(WINDOW_MS) })
  ids = await Promise.all(c.nodes.map((n) => c.idOf(n)))
})
afterAll(() => c.stopAll())

const tryUpgrade = (url: string) =>
  new Promise<{ opened: boolean; code?: number }>((done) => {
    const ws = new WebSocket(url)
    ws.onopen = () => {
      ws.close()
      done({ opened: true })
    }
    ws.onclose = (e) => done({ opened: false, code: e.code })
  })

const wsUrl = (i: number, path: string) => `${c.nodes[i]!.url.replace("http", "ws")}${path}`
type Refusal = EventOf<"link-refused"> | EventOf<"link-refusals">
/** Node i's refused-link events (with `code`: only the first-of-a-window ones with that code). */
const refusals = (i: number, code?: string) =>
  c.nodes[i]!.events.filter((e): e is Refusal => (e.t === "link-refused" && (!code || e.code === code)) || (e.t === "link-refusals" && !code))
const metric = async (i: number, reason: string) => {
  const text = await (await fetch(`${c.nodes[i]!.url}/metrics`)).text()
  return Number(new RegExp(`^baton_cluster_link_refusals_total\\{reason="${reason}"\\} (\\d+)$`, "m").exec(text)?.[1] ?? 0)
}

describe("cluster links need the cluster secret", () => {
  test("a peer with a wrong secret is refused and logged, and never becomes a member", async () => {
    const intruder = await c.add({ env: { BATON_CLUSTER_SECRET: "not-the-secret" } })
    const intruderId = await c.idOf(intruder)
    // It cannot check the members' proofs, so it does not dial them, and says why.
    await waitUntil(() => intruder.logs.some((l) => String(l.msg).includes("cannot prove it holds the cluster secret")), "the intruder says why it does not dial")
    // Its own tokens are refused where they are tried.
    const forged = await fetch(`${c.nodes[0]!.url}/cluster/control?${signLink("not-the-secret", { from: intruderId, to: ids[0]!, kind: "control" })}`)
    expect(forged.status).toBe(401)
    await waitUntil(() => refusals(0, "bad-signature").length > 0, "node 0 logs the refusal")
    expect(refusals(0, "bad-signature")[0]).toMatchObject({ reason: expect.stringMatching(/bad signature/) })
    // The id it claims is its own word, unproven: it is not shown.
    expect(JSON.stringify(refusals(0))).not.toContain(intruderId)
    for (const n of c.nodes.slice(0, 2)) expect((await c.members(n)).map((m) => m.id)).not.toContain(intruderId)
    expect((await c.members(intruder)).filter((m) => m.up)).toHaveLength(1)
    await intruder.kill()
  })

  test("forged, stale or missing tokens are refused with 401 on both link endpoints", async () => {
    const base = c.nodes[0]!.url
    const res = await fetch(`${base}/cluster/control`)
    expect(res.status).toBe(401)
    expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "unauthorized" })
    const forged = new URLSearchParams({ node: "n-evil", to: ids[0]!, kind: "sync", ts: String(Date.now()), nonce: "A".repeat(22), sig: "AAAA" })
    expect(await tryUpgrade(`${wsUrl(0, "/cluster/sync")}?${forged}`)).toMatchObject({ opened: false })
    expect(await tryUpgrade(`${wsUrl(0, "/cluster/control")}?${signLink("guess", { from: "n-evil", to: ids[0]!, kind: "control" })}`)).toMatchObject({ opened: false })
    const stale = signLink(TEST_SECRET, { from: "n-evil", to: ids[0]!, kind: "control" }, Date.now() - 10 * 60_000)
    expect(await tryUpgrade(`${wsUrl(0, "/cluster/control")}?${stale}`)).toMatchObject({ opened: false })
    // Counted by reason (the log sums up refusals per source, see the flood test).
    await waitUntil(async () => (await metric(0, "stale")) >= 1, "the stale token is counted as stale")
    // The right secret opens it (the same check guards both endpoints).
    expect(await tryUpgrade(`${wsUrl(0, "/cluster/sync")}?${signLink(TEST_SECRET, { from: "n-friend", to: ids[0]!, kind: "sync" })}`)).toMatchObject({ opened: true })
  })

  test("a link URL is good once, for the node and the link it was signed for", async () => {
    // What an eavesdropper on a plain ws:// link captures: a URL node 1 used to dial node 0.
    const captured = `${wsUrl(0, "/cluster/control")}?${signLink(TEST_SECRET, { from: ids[1]!, to: ids[0]!, kind: "control" })}`
    expect(await tryUpgrade(captured)).toMatchObject({ opened: true })
    expect(await tryUpgrade(captured)).toMatchObject({ opened: false })
    await waitUntil(async () => (await metric(0, "replayed")) >= 1, "the replay is counted")
    // Taken to another node, or to the other link, it is refused too.
    const forZero = signLink(TEST_SECRET, { from: "n-friend", to: ids[0]!, kind: "control" })
    expect(await tryUpgrade(`${wsUrl(1, "/cluster/control")}?${forZero}`)).toMatchObject({ opened: false })
    expect(await tryUpgrade(`${wsUrl(0, "/cluster/sync")}?${forZero}`)).toMatchObject({ opened: false })
    await waitUntil(async () => (await metric(1, "wrong-node")) >= 1 && (await metric(0, "wrong-kind")) >= 1, "both are counted")
  })

  test("a link cannot speak for another node: a hello naming someone else is refused, and its bye is not heard", async () => {
    const ws = new WebSocket(`${wsUrl(0, "/cluster/control")}?${signLink(TEST_SECRET, { from: "n-friend", to: ids[0]!, kind: "control" })}`)
    const closed = new Promise<number>((done) => (ws.onclose = (e) => done(e.code)))
    await new Promise((done) => (ws.onopen = done))
    // The attack: hello as a real member, then bye (as a batch too, which a reader of batches unpacks).
    const hello = { t: "hello", id: ids[1], url: c.nodes[1]!.url, status: "ready", version: "0", sessions: 0, peers: [], caps: ["batch"] }
    ws.send(JSON.stringify({ t: "batch", msgs: [hello, { t: "bye" }] }))
    ws.send(JSON.stringify(hello))
    ws.send(JSON.stringify({ t: "bye" }))
    expect(await closed).toBe(4003)
    await waitUntil(async () => (await metric(0, "hello-mismatch")) >= 1, "the refusal is counted")
    const member = (await c.members(c.nodes[0]!)).find((m) => m.id === ids[1])
    expect(member).toMatchObject({ up: true, status: "ready" })
    expect(c.nodes[0]!.eventsOf("member-down", (e) => e.member === ids[1])).toEqual([])
  })

  test("a flood of refused links is counted and summed up per source; spoofed headers and its text are not shown", async () => {
    const since = Date.now() - 1
    const before = refusals(0).length
    const evil = new URLSearchParams({ node: "<img src=x onerror=alert(1)>", to: ids[0]!, kind: "control", ts: String(Date.now()), nonce: "B".repeat(22), sig: "AAAA" })
    const floodFrom = performance.now()
    for (let batch = 0; batch < 12; batch++)
      await Promise.all(
        Array.from({ length: 50 }, () => fetch(`${c.nodes[0]!.url}/cluster/control?${evil}`, { headers: { "x-forwarded-for": "6.6.6.6" } }).then((r) => r.arrayBuffer())),
      )
    const windows = Math.ceil((performance.now() - floodFrom) / WINDOW_MS) + 1
    expect(await metric(0, "malformed")).toBeGreaterThanOrEqual(600)
    // One event at once, then one summing up the rest when the window closes: two per window the flood spans, not 600.
    const told = () => refusals(0).slice(before).reduce((n, e) => n + (e.t === "link-refusals" ? e.count : 1), 0)
    await waitUntil(() => told() >= 600, "the events account for all 600", { timeoutMs: 30_000 })
    const events = ((await (await fetch(`${c.nodes[0]!.url}/cluster/timeline?since=${since}`)).json()) as { events: Record<string, unknown>[] }).events
    const shown = events.filter((e) => e.msg === "cluster link refused")
    expect(shown.length).toBeGreaterThanOrEqual(1)
    expect(shown.length).toBeLessThanOrEqual(2 * windows)
    expect(shown.every((e) => e.from === "127.0.0.1")).toBe(true)
    const all = JSON.stringify(events) + JSON.stringify(c.nodes[0]!.events) + JSON.stringify(c.nodes[0]!.logs)
    expect(all).not.toContain("6.6.6.6")
    expect(all).not.toContain("<img")
    // The real events are still there.
    const whole = ((await (await fetch(`${c.nodes[0]!.url}/cluster/timeline`)).json()) as { events: Record<string, unknown>[] }).events
    expect(whole.some((e) => e.msg === "node-up")).toBe(true)
  })

  test("outside dev mode, a node with peers and no secret refuses to start and says why", async () => {
    const proc = Bun.spawn(["bun", resolve(import.meta.dir, "../../framework/cli/main.ts"), "start", resolve(import.meta.dir, "../fixtures/app")], {
      env: { ...process.env, PORT: String(freePort()), HOST: "127.0.0.1", BATON_PEERS: c.urls[0] as string, BATON_CLUSTER_SECRET: "", BATON_DEV: "" },
      stdout: "pipe",
      stderr: "pipe",
    })
    expect(await proc.exited).not.toBe(0)
    expect(await new Response(proc.stderr).text()).toContain("refusing to form a multi-node cluster without BATON_CLUSTER_SECRET")
  })

  test("a lone node without a secret refuses every cluster link; behind a trusted proxy it names the forwarded source", async () => {
    const lone = await startNodeProcess({ env: { BATON_TRUST_PROXY: "1" } })
    const fresh = () => `${lone.url.replace("http", "ws")}/cluster/control?${signLink("any", { from: "n-x", to: "n-y", kind: "control" })}`
    expect(await tryUpgrade(fresh())).toMatchObject({ opened: false })
    await lone.waitForEvent("link-refused", (e) => e.reason.includes("not in a cluster"))
    // The proxy's own entry is the last one; what the client wrote before it is not believed.
    const res = await fetch(`${lone.url}/cluster/sync?${signLink("any", { from: "n-x", to: "n-y", kind: "sync" })}`, { headers: { "x-forwarded-for": "6.6.6.6, 10.1.2.3" } })
    expect(res.status).toBe(401)
    await lone.waitForEvent("link-refused", (e) => e.from === "10.1.2.3")
    expect(JSON.stringify(lone.events) + JSON.stringify(lone.logs)).not.toContain("6.6.6.6")
    await lone.kill()
  })

  test("a node dials a URL only once its answer proves the secret: an impostor naming a real member gets no token", async () => {
    // A stale peer address (or a poisoned DNS entry) now answered by someone without the secret, who names a real member.
    const member = ids[0]!
    const asked: string[] = []
    const impostor = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(req) {
        const u = new URL(req.url)
        asked.push(u.pathname + u.search)
        return u.pathname === "/healthz" ? Response.json({ ok: true, node: member, status: "ready" }) : new Response("no", { status: 404 })
      },
    })
    const dialler = await startNodeProcess({ env: { BATON_CLUSTER_SECRET: TEST_SECRET, BATON_PEERS: `http://127.0.0.1:${impostor.port}`, BATON_HEARTBEAT_MS: "200" } })
    try {
      // The dialler asks who answers, twice (its first dial was given up): and never goes on to open a link there.
      await waitUntil(() => asked.filter((a) => a.startsWith("/healthz?c=")).length >= 2, "the dialler asks twice who answers", { timeoutMs: 30_000 })
      expect(asked.filter((a) => a.startsWith("/cluster/"))).toEqual([])
      // A real member proves itself to the same question.
      const challenge = "0123456789abcdef0123"
      const real = (await (await fetch(`${c.nodes[0]!.url}/healthz?c=${challenge}`)).json()) as { node: string; proof?: string }
      expect(real.node).toBe(member)
      expect(typeof real.proof).toBe("string")
    } finally {
      impostor.stop(true)
      await dialler.kill()
    }
  }, 60_000)
})
