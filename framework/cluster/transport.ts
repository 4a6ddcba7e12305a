import { Resolver } from "node:dns/promises"
import { dialWebSocket } from "./bun-links.ts"
import type { Clock } from "./clock.ts"
import type { Link, LinkHandlers } from "./link.ts"

/**
 * How a node reaches its peers: dials their links, asks their /healthz,
 * resolves discovery names. The cluster sees only this interface, so the
 * simulator can run it over a simulated network; `bunTransport` is the
 * real one (Bun's WebSocket, fetch and DNS).
 */
export interface Transport {
  /** Dials a peer's link at `url` (http(s)://host:port/path?query); resolves once open, rejects when refused or not open within `timeoutMs`. */
  dial(url: string, handlers: LinkHandlers, timeoutMs?: number): Promise<Link>
  /** GETs a JSON document (a peer's /healthz); rejects when it has no answer within `timeoutMs`, with Refused when nothing listens there. */
  getJson(url: string, timeoutMs: number): Promise<{ ok: boolean; body: unknown }>
  /** A DNS name's A records (discovery), asked of `server` when given. */
  resolve4(name: string, server?: string): Promise<string[]>
}

/** Nothing listens at the address (the connection was refused): the process that did is gone. */
export class Refused extends Error {}

/** The real network: Bun's WebSocket client, fetch and DNS resolver. */
export function bunTransport(clock: Clock, failed?: (error: unknown) => void): Transport {
  return {
    dial: (url, handlers, timeoutMs) => dialWebSocket(url.replace(/^http/, "ws"), handlers, timeoutMs === undefined ? undefined : { ms: timeoutMs, timers: clock }, failed),
    async getJson(url, timeoutMs) {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) }).catch((error: unknown) => {
        throw (error as { code?: unknown })?.code === "ECONNREFUSED" ? new Refused(`connection refused by ${new URL(url).host}`) : error
      })
      return { ok: res.ok, body: await res.json() }
    },
    async resolve4(name, server) {
      const resolver = new Resolver({ timeout: 2000, tries: 2 })
      if (server) resolver.setServers([server])
      return resolver.resolve4(name)
    },
  }
}
