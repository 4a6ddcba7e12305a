import { afterAll, describe, expect, test } from "bun:test"
import { TEST_SECRET } from "../support/cluster.ts"
import { freePort, type NodeProcess, startNodeProcess } from "../support/node-process.ts"
import { TcpProxy } from "../support/proxy.ts"
import { waitUntil } from "../support/wait.ts"

const TTL_MS = 2_000
const nodes: NodeProcess[] = []
const proxies: TcpProxy[] = []
afterAll(async () => {
  for (const p of proxies) p.stop()
  await Promise.all(nodes.map((n) => n.kill()))
})

describe("sync links", () => {
  test("a sync socket cut after its link token expired comes back (each redial is signed afresh)", async () => {
    // Two nodes, each reached by the other only through a proxy in front of it: the test can cut the sync socket alone.
    const ports = [freePort(), freePort()]
    proxies.push(...ports.map((p) => new TcpProxy(p)))
    const started = await Promise.all(
      ports.map((port, i) =>
        startNodeProcess({
          port,
          env: {
            BATON_CLUSTER_SECRET: TEST_SECRET,
            BATON_ADVERTISE_URL: proxies[i]!.url,
            BATON_PEERS: proxies[1 - i]!.url,
            BATON_HEARTBEAT_MS: "200",
            BATON_FAILURE_MS: "3000",
            BATON_LINK_TTL_MS: String(TTL_MS),
          },
        }),
      ),
    )
    nodes.push(...started)
    const syncUpgrades = () => proxies.reduce((n, p) => n + p.upgrades("/cluster/sync"), 0)
    const before = await waitUntil(() => syncUpgrades(), "the sync link opens", { timeoutMs: 20_000 })
    const opened = Date.now()
    // The token it was opened with is now past its lifetime.
    await waitUntil(() => Date.now() - opened > TTL_MS * 2, "the token's lifetime passes", { timeoutMs: TTL_MS * 4 })
    for (const p of proxies) p.cut((line) => line.startsWith("GET /cluster/sync"))
    await waitUntil(() => syncUpgrades() > before, "the sync link is redialled and accepted", { timeoutMs: 20_000 })
    for (const n of nodes) expect([...n.eventsOf("link-refused"), ...n.eventsOf("link-refusals")]).toEqual([])
    // The control link was never cut: nobody went down for it.
    for (const n of nodes) expect(n.eventsOf("member-down")).toEqual([])
  })
})
