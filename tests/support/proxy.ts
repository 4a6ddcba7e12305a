import type { Socket, TCPSocketListener } from "bun"

interface Pair {
  client: Socket<Pair>
  upstream?: Socket<undefined>
  queued: Uint8Array[]
  /** Bytes either way are dropped and nothing is closed: a machine that lost power, a route gone. */
  stalled?: boolean
  /** Bytes from the node are dropped, the client's still go up: answers lost on the way back. */
  deaf?: boolean
  /** First lines seen each way (an HTTP request line, a status line). */
  seen: Exchange
}

/** One connection through the proxy: its HTTP request line and the answer's status line. */
export interface Exchange {
  request?: string
  status?: string
}

const firstLine = (chunk: Uint8Array) => new TextDecoder().decode(chunk.subarray(0, 200)).split("\r\n")[0]

/**
 * A TCP proxy on 127.0.0.1 in front of a node: `cut()` drops every
 * connection at once (a flaky network), so reconnects can be tested for real.
 */
export class TcpProxy {
  #pairs = new Set<Pair>()
  /** Every connection so far, oldest first. */
  readonly exchanges: Exchange[] = []
  #listener: TCPSocketListener<Pair>
  upstreamPort: number

  constructor(upstreamPort: number) {
    this.upstreamPort = upstreamPort
    const pairs = this.#pairs
    const self = this
    this.#listener = Bun.listen<Pair>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open(client) {
          const pair: Pair = { client, queued: [], seen: {} }
          client.data = pair
          pairs.add(pair)
          self.exchanges.push(pair.seen)
          Bun.connect<undefined>({
            hostname: "127.0.0.1",
            port: self.upstreamPort,
            socket: {
              open(up) {
                pair.upstream = up
                for (const chunk of pair.queued) up.write(chunk)
                pair.queued = []
              },
              data(_up, chunk) {
                pair.seen.status ??= firstLine(chunk)
                if (!pair.stalled && !pair.deaf) pair.client.write(chunk)
              },
              close() {
                pair.client.end()
                pairs.delete(pair)
              },
              error() {
                pair.client.end()
              },
            },
          }).catch(() => client.end())
        },
        data(client, chunk) {
          const pair = client.data
          pair.seen.request ??= firstLine(chunk)
          if (pair.stalled) return
          if (pair.upstream) pair.upstream.write(chunk)
          else pair.queued.push(new Uint8Array(chunk))
        },
        close(client) {
          client.data.upstream?.end()
          pairs.delete(client.data)
        },
      },
    })
  }

  get port(): number {
    return this.#listener.port
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }
  get connections(): number {
    return this.#pairs.size
  }

  /** Drops every connection (or those whose request line matches), both ways, without a WebSocket close frame. */
  cut(match?: (requestLine: string) => boolean): void {
    for (const p of this.#pairs) {
      if (match && !match(p.seen.request ?? "")) continue
      p.client.terminate()
      p.upstream?.terminate()
      this.#pairs.delete(p)
    }
  }

  /** Every open connection goes silent both ways and stays open (new ones pass): a node that lost power, seen from its players. */
  stall(): void {
    for (const p of this.#pairs) p.stalled = true
  }

  /** Every open connection stops carrying the node's frames to its client; the client's still reach the node (new ones pass). */
  deafen(): void {
    for (const p of this.#pairs) p.deaf = true
  }

  /** Connections whose request line starts with `GET path` and that were upgraded (101). */
  upgrades(path: string): number {
    return this.exchanges.filter((e) => e.request?.startsWith(`GET ${path}`) && e.status?.includes(" 101 ")).length
  }

  stop(): void {
    this.cut()
    this.#listener.stop(true)
  }
}
