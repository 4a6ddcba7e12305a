import { EventEmitter } from "node:events"
import type { NetworkAdapterInterface, Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter, WebSocketServerAdapter } from "@automerge/automerge-repo-network-websocket"
import type { ServerWebSocket } from "bun"
import type { LinkKind } from "./auth.ts"

/**
 * automerge-repo sync between nodes over the product card's WebSocket
 * adapters, exactly one link per pair: the node with the lower id dials
 * (`WebSocketClientAdapter`), the other accepts on its one HTTP port
 * (`WebSocketServerAdapter` over Bun's native sockets, through a shim).
 */
export class SyncLinks {
  readonly #repo: Repo
  readonly #selfId: string
  readonly #sign: (to: string, kind: LinkKind) => string
  readonly #server = new ShimServer()
  readonly #dialed = new Map<string, NetworkAdapterInterface>()

  /** `sign`: a fresh link token (query string) for one dial to a node. */
  constructor(repo: Repo, selfId: string, sign: (to: string, kind: LinkKind) => string) {
    this.#repo = repo
    this.#selfId = selfId
    this.#sign = sign
    repo.networkSubsystem.addNetworkAdapter(new ReadyServerAdapter(this.#server as never, 5_000))
  }

  /** Opens the sync link to a peer that is up, when it is ours to dial. */
  connect(peerId: string, peerUrl: string): void {
    if (this.#selfId >= peerId || this.#dialed.has(peerId)) return
    const url = `${peerUrl.replace(/^http/, "ws")}/cluster/sync`
    const adapter = new SafeClientAdapter(url, () => `${url}?${this.#sign(peerId, "sync")}`, 500)
    this.#dialed.set(peerId, adapter)
    this.#repo.networkSubsystem.addNetworkAdapter(adapter)
  }

  /** Drops the sync link to a peer that is down (either side). */
  disconnect(peerId: string): void {
    const adapter = this.#dialed.get(peerId)
    if (adapter) {
      this.#dialed.delete(peerId)
      this.#repo.networkSubsystem.removeNetworkAdapter(adapter)
    }
    for (const shim of this.#server.clients) if (shim.peerNode === peerId) shim.terminate()
  }

  /** Bun WebSocket handlers for accepted sync sockets (`ws.data.peer` is the authenticated node id). */
  readonly socket = {
    open: (ws: ServerWebSocket<{ peer: string; shim?: ShimSocket }>) => {
      const shim = new ShimSocket(ws, ws.data.peer)
      ws.data.shim = shim
      this.#server.clients.add(shim)
      this.#server.emit("connection", shim)
    },
    message: (ws: ServerWebSocket<{ shim?: ShimSocket }>, data: string | Buffer) => {
      if (typeof data !== "string") ws.data.shim?.emit("message", data)
    },
    close: (ws: ServerWebSocket<{ shim?: ShimSocket }>) => {
      const shim = ws.data.shim
      if (!shim) return
      this.#server.clients.delete(shim)
      shim.readyState = 3
      shim.emit("close")
    },
    pong: (ws: ServerWebSocket<{ shim?: ShimSocket }>) => {
      ws.data.shim?.emit("pong")
    },
  }

  close(): void {
    for (const id of [...this.#dialed.keys()]) this.disconnect(id)
    for (const shim of this.#server.clients) shim.terminate()
    this.#server.emit("close")
  }
}

/**
 * WebSocketClientAdapter, minus three ways it can take the process down
 * under Bun: a socket closed while connecting emits "error" after the
 * adapter removed its listener (an unhandled error event), its error
 * handler rethrows anything but ECONNREFUSED, and send() throws on a socket
 * that is not open. A lost sync message is not a problem: the sync protocol
 * catches up on the next connection. Each dial (the first and every redial
 * the adapter schedules itself) gets a freshly signed URL: a link token is
 * single-use and short-lived, so a redial with the first one would be refused.
 */
class SafeClientAdapter extends WebSocketClientAdapter {
  readonly #dialUrl: () => string

  constructor(url: string, dialUrl: () => string, retryMs: number) {
    super(url, retryMs)
    this.#dialUrl = dialUrl
    this.onError = () => {}
  }
  /** Removed: the package's own redial (a timer its onClose sets and disconnect does not clear) must not dial again. */
  #gone = false

  override connect(peerId: Parameters<WebSocketClientAdapter["connect"]>[0], meta?: Parameters<WebSocketClientAdapter["connect"]>[1]): void {
    // A dead peer's adapter redialling its URL forever, with tokens for its old id, refused each time by
    // whoever restarted there (seen in the partition test: 20 refusals per 10 s).
    if (this.#gone) return
    // `url` is declared readonly but read afresh by every connect (the adapter's own redials included).
    ;(this as { url: string }).url = this.#dialUrl()
    super.connect(peerId, meta)
    guard(this.socket)
  }
  override disconnect(): void {
    this.#gone = true
    guard(this.socket)
    if (this.socket && this.peerId) super.disconnect()
  }
  override send(message: Parameters<WebSocketClientAdapter["send"]>[0]): void {
    if (this.socket?.readyState !== WebSocket.OPEN) return
    super.send(message)
  }
}

function guard(socket: unknown): void {
  ;(socket as { on?: (event: string, fn: () => void) => void } | undefined)?.on?.("error", () => {})
}

/** The server adapter waits for a first connection before it is ready; a node nobody dialled must not hang `find`. */
class ReadyServerAdapter extends WebSocketServerAdapter {
  override isReady(): boolean {
    return true
  }
  override whenReady(): Promise<void> {
    return Promise.resolve()
  }
}

/** What WebSocketServerAdapter expects of a `ws` server: connection/close events and a clients set. */
class ShimServer extends EventEmitter {
  readonly clients = new Set<ShimSocket>()
}

/** A Bun ServerWebSocket dressed as a `ws` socket for WebSocketServerAdapter. */
class ShimSocket extends EventEmitter {
  readyState = 1
  isAlive = true

  constructor(
    readonly ws: ServerWebSocket<unknown>,
    readonly peerNode: string,
  ) {
    super()
  }

  send(data: ArrayBuffer | Uint8Array): void {
    // 0 means Bun dropped the frame: a lost sync message must not pass silently, so resync from scratch.
    if (this.ws.send(data as Uint8Array) === 0) this.ws.close(1011, "sync frame dropped under backpressure")
  }
  ping(): void {
    this.ws.ping()
  }
  close(): void {
    this.ws.close()
  }
  terminate(): void {
    this.readyState = 3
    this.ws.terminate()
  }
}
