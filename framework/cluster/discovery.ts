import type { Logger } from "../log/index.ts"
import type { MemberEvent } from "../protocol/index.ts"
import type { Clock } from "./clock.ts"
import type { Transport } from "./transport.ts"

/**
 * Where a node looks for peers. Static URLs (BATON_PEERS), DNS names
 * re-resolved periodically (a Kubernetes headless service: one A record per
 * ready pod, all on the same port), and — in the cluster itself — peers
 * learned from peers.
 */
export interface Discovery {
  peers: string[]
  /** "NAME" or "NAME:PORT"; every A record becomes http://IP:PORT (https when `tls`). */
  dns?: { name: string; port: number; everyMs: number; server?: string; tls?: boolean }
}

/** Parses BATON_PEERS / BATON_DISCOVERY / BATON_DNS_SERVER; throws with the offending value. */
export function discoveryFromEnv(env: Record<string, string | undefined>, ownPort: number): Discovery {
  const peers = (env.BATON_PEERS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
  for (const p of peers) {
    if (!/^https?:\/\/[^/]+$/.test(p.replace(/\/+$/, ""))) throw new Error(`BATON_PEERS: "${p}" is not a URL like http://10.0.0.2:3000`)
  }
  const d: Discovery = { peers: peers.map((p) => p.replace(/\/+$/, "")) }
  const spec = env.BATON_DISCOVERY
  if (spec) {
    const m = /^dns:([A-Za-z0-9.-]+)(?::(\d+))?$/.exec(spec)
    if (!m) throw new Error(`BATON_DISCOVERY: "${spec}" is not dns:NAME or dns:NAME:PORT`)
    d.dns = { name: m[1] as string, port: m[2] ? Number(m[2]) : ownPort, everyMs: Number(env.BATON_DNS_INTERVAL_MS ?? 5000), server: env.BATON_DNS_SERVER || undefined, tls: !!env.BATON_TLS_CERT }
  }
  return d
}

/** Reports peer URLs as they are found; returns a stop function. */
export function startDiscovery(
  d: Discovery,
  found: (urls: string[]) => void,
  { log, onEvent, clock, transport }: { log: Logger; onEvent: (event: Extract<MemberEvent, { t: "peers-discovered" }>) => void; clock: Clock; transport: Transport },
): () => void {
  if (d.peers.length) found(d.peers)
  if (!d.dns) return () => {}
  const dns = d.dns
  let last = ""
  const look = async () => {
    try {
      const ips = (await transport.resolve4(dns.name, dns.server)).sort()
      const key = ips.join(",")
      if (key !== last) {
        log.info("dns discovery", { name: dns.name, addresses: ips })
        onEvent({ t: "peers-discovered", name: dns.name, addresses: ips })
      }
      last = key
      found(ips.map((ip) => `${dns.tls ? "https" : "http"}://${ip}:${dns.port}`))
    } catch (error) {
      log.warn("dns discovery failed", { name: dns.name, error: (error as Error).message })
    }
  }
  void look()
  const timer = clock.setInterval(look, dns.everyMs)
  return () => clock.clearInterval(timer)
}
