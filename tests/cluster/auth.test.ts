import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { resolve } from "node:path"
import { signLink } from "../../framework/cluster/index.ts"
import { TEST_SECRET, TestCluster } from "../support/cluster.ts"
import { freePort, startNodeProcess } from "../support/node-process.ts"
import { waitUntil } from "../support/wait.ts"

let c: TestCluster
beforeAll(async () => {
  c = await TestCluster.start(2)
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

describe("cluster links need the cluster secret", () => {
  test("a peer with a wrong secret is refused and logged, and never becomes a member", async () => {
    const intruder = await c.add({ env: { BATON_CLUSTER_SECRET: "not-the-secret" } })
    const intruderId = await c.idOf(intruder)
    await waitUntil(() => c.nodes[0]!.logs.find((l) => l.msg === "cluster link refused" && l.claimed === intruderId), "node 0 logs the refusal")
    const refusal = c.nodes[0]!.logs.find((l) => l.msg === "cluster link refused" && l.claimed === intruderId)!
    expect(refusal.reason).toMatch(/bad signature/)
    for (const n of c.nodes.slice(0, 2)) expect((await c.members(n)).map((m) => m.id)).not.toContain(intruderId)
    expect((await c.members(intruder)).filter((m) => m.up)).toHaveLength(1)
    await intruder.kill()
  })

  test("forged, stale or missing tokens are refused with 401 on both link endpoints", async () => {
    const base = c.nodes[0]!.url
    const res = await fetch(`${base}/cluster/control`)
    expect(res.status).toBe(401)
    expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "unauthorized" })
    const ws = base.replace("http", "ws")
    const forged = new URLSearchParams({ node: "n-evil", ts: String(Date.now()), sig: "AAAA" })
    expect(await tryUpgrade(`${ws}/cluster/sync?${forged}`)).toMatchObject({ opened: false })
    expect(await tryUpgrade(`${ws}/cluster/control?${signLink("guess", "n-evil")}`)).toMatchObject({ opened: false })
    expect(await tryUpgrade(`${ws}/cluster/control?${signLink(TEST_SECRET, "n-evil", Date.now() - 10 * 60_000)}`)).toMatchObject({ opened: false })
    // The right secret opens it (the same check guards both endpoints).
    expect(await tryUpgrade(`${ws}/cluster/sync?${signLink(TEST_SECRET, "n-friend")}`)).toMatchObject({ opened: true })
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

  test("a lone node without a secret refuses every cluster link", async () => {
    const lone = await startNodeProcess()
    expect(await tryUpgrade(`${lone.url.replace("http", "ws")}/cluster/control?${signLink("any", "n-x")}`)).toMatchObject({ opened: false })
    await waitUntil(() => lone.logs.some((l) => l.msg === "cluster link refused" && String(l.reason).includes("not in a cluster")), "the refusal is logged")
    await lone.kill()
  })
})
