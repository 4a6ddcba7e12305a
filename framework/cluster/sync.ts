import type { Repo } from "@automerge/automerge-repo"
import type { LinkKind } from "./auth.ts"
import type { Clock } from "./clock.ts"
import type { AcceptedLink, Link } from "./link.ts"
import { LinkSyncAdapter } from "./sync-adapter.ts"
import type { Transport } from "./transport.ts"

/** How long after a sync link closes, while its peer is up, it is dialled again, ms. */
const REDIAL_MS = 500

/**
 * automerge-repo sync between nodes, exactly one link per pair: the node
 * with the lower id dials, the other accepts on its one port. Both sides go
 * through one LinkSyncAdapter (automerge-repo's NetworkAdapter over a Link).
 * A closed link is dialled again while the peer is up, each time with a
 * freshly signed token (tokens are single-use and short-lived).
 */
export class SyncLinks {
  readonly adapter: LinkSyncAdapter
  readonly #selfId: string
  readonly #sign: (to: string, kind: LinkKind) => string
  readonly #transport: Transport
  readonly #clock: Clock
  /** Peers this node dials, and their URL (present while the peer is up). */
  readonly #wanted = new Map<string, string>()
  readonly #links = new Map<string, Link>()
  readonly #dialing = new Set<string>()
  #closed = false

  constructor(repo: Repo, selfId: string, sign: (to: string, kind: LinkKind) => string, transport: Transport, clock: Clock) {
    this.#selfId = selfId
    this.#sign = sign
    this.#transport = transport
    this.#clock = clock
    this.adapter = new LinkSyncAdapter({ timers: clock })
    repo.networkSubsystem.addNetworkAdapter(this.adapter)
  }

  /** Opens the sync link to a peer that is up, when it is ours to dial. */
  connect(peerId: string, peerUrl: string): void {
    if (this.#closed || this.#selfId >= peerId) return
    this.#wanted.set(peerId, peerUrl)
    void this.#dial(peerId)
  }

  async #dial(peerId: string): Promise<void> {
    const url = this.#wanted.get(peerId)
    if (!url || this.#dialing.has(peerId) || this.#links.get(peerId)?.open) return
    this.#dialing.add(peerId)
    try {
      let handlers: ReturnType<LinkSyncAdapter["attach"]> | undefined
      // A frame that arrives with the open, before the dial resolved, is kept (see Cluster's control dial).
      const early: (string | Uint8Array)[] = []
      const link = await this.#transport.dial(`${url}/cluster/sync?${this.#sign(peerId, "sync")}`, {
        message: (data) => (handlers ? handlers.message(data) : void early.push(data)),
        close: (code, reason) => {
          handlers?.close(code, reason)
          if (this.#links.get(peerId) === link) this.#links.delete(peerId)
          this.#redialSoon(peerId)
        },
        pong: () => handlers?.pong?.(),
      }, 5_000)
      if (!this.#wanted.has(peerId)) return link.close(1000, "peer gone")
      this.#links.set(peerId, link)
      handlers = this.adapter.attach(peerId, link, "dialer")
      for (const data of early.splice(0)) handlers.message(data)
    } catch {
      // Refused or unreachable: the control link decides whether the peer is down (then disconnect stops this).
      this.#redialSoon(peerId)
    } finally {
      this.#dialing.delete(peerId)
    }
  }

  #redialSoon(peerId: string): void {
    if (this.#closed || !this.#wanted.has(peerId)) return
    this.#clock.setTimeout(() => void this.#dial(peerId), REDIAL_MS)
  }

  /** A sync link a peer dialled to us (its token checked: `peer` is who it is). */
  accept(peer: string, link: AcceptedLink): void {
    if (this.#closed) return link.close(1001, "node leaving")
    link.handlers = this.adapter.attach(peer, link, "acceptor")
  }

  /** Drops the sync link to a peer that is down (either side). */
  disconnect(peerId: string): void {
    this.#wanted.delete(peerId)
    this.#links.delete(peerId)
    this.adapter.detach(peerId)
  }

  close(): void {
    this.#closed = true
    for (const id of [...this.#wanted.keys(), ...this.#links.keys()]) this.disconnect(id)
    this.adapter.disconnect()
  }
}
