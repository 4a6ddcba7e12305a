import type { Socket, TCPSocketListener } from "bun"

interface Pair {
  client: Socket<Pair>
  upstream?: Socket<undefined>
  queued: Uint8Array[]
}

/**
 * A TCP proxy on 127.0.0.1 in front of a node: `cut()` drops every
 * connection at once (a flaky network), so reconnects can be tested for real.
 */
export class TcpProxy {
  #pairs = new Set<Pair>()
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
          const pair: Pair = { client, queued: [] }
          client.data = pair
          pairs.add(pair)
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
                pair.client.write(chunk)
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

  /** Drops every connection, both ways, without a WebSocket close frame. */
  cut(): void {
    for (const p of this.#pairs) {
      p.client.terminate()
      p.upstream?.terminate()
    }
    this.#pairs.clear()
  }

  stop(): void {
    this.cut()
    this.#listener.stop(true)
  }
}
