import { afterAll, describe, expect, test } from "bun:test"
import { TEST_SECRET } from "../support/cluster.ts"
import { Dnsmasq } from "../support/dnsmasq.ts"
import { freePort, type NodeProcess, startNodeProcess, stopAllNodes } from "../support/node-process.ts"
import { waitUntil } from "../support/wait.ts"

// CI installs dnsmasq (.ci/run); a developer machine without it skips, loudly.
const ready = Dnsmasq.available() || process.env.CI === "true"
if (!ready) console.warn("dns.test.ts: dnsmasq is not installed (apt-get install dnsmasq-base); skipping DNS discovery")

const dns = new Dnsmasq()
afterAll(async () => {
  await stopAllNodes()
  dns.stop()
})

describe.skipIf(!ready)("DNS discovery against a real DNS server", () => {
  test("a node alone finds peers as the name's A records change (re-resolved periodically)", async () => {
    // The Kubernetes headless-service shape: one name, one A record per pod, all on the same port.
    const port = freePort()
    const name = "nodes.baton.test"
    const addrs = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
    await dns.serve(name, addrs.slice(0, 1))
    const env = {
      BATON_CLUSTER_SECRET: TEST_SECRET,
      BATON_DNS_SERVER: dns.server,
      BATON_DNS_INTERVAL_MS: "200",
      BATON_HEARTBEAT_MS: "200",
    }
    const discovery = { BATON_DISCOVERY: `dns:${name}:${port}` }
    const upCount = async (n: NodeProcess) =>
      ((await (await fetch(`${n.url}/cluster`)).json()) as { members: { up: boolean }[] }).members.filter((m) => m.up).length

    // The first node starts alone: the name lists only itself.
    const first = await startNodeProcess({ port, env: { ...env, ...discovery, HOST: addrs[0]! } })
    await first.waitForEvent("peers-discovered")
    // A second node that looks for nobody: only the first node's next lookup can bring them together.
    const second = await startNodeProcess({ port, env: { ...env, HOST: addrs[1]! } })
    expect(await upCount(first)).toBe(1)
    await dns.serve(name, addrs.slice(0, 2))
    await waitUntil(async () => (await upCount(first)) === 2 && (await upCount(second)) === 2, "the first node finds the second through DNS")
    expect(first.eventsOf("peers-discovered", (e) => e.addresses.length === 2)).toHaveLength(1)

    // A third pod joins through the same name.
    await dns.serve(name, addrs)
    const third = await startNodeProcess({ port, env: { ...env, ...discovery, HOST: addrs[2]! } })
    await waitUntil(async () => (await Promise.all([first, second, third].map(upCount))).every((k) => k === 3), "all three see each other")
  })
})
