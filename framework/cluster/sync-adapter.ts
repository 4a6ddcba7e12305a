import { cbor, type Message, NetworkAdapter, type PeerId, type PeerMetadata } from "@automerge/automerge-repo"
import type { Link, LinkHandlers } from "./link.ts"
import { systemTimers, type Timers } from "./clock.ts"

/** The one protocol version @automerge/automerge-repo-network-websocket speaks; a node of the previous Baton version uses it. */
const PROTOCOL_V1 = "1"

/**
 * Close codes, in the application range (a browser-style WebSocket refuses most 1xxx codes from code):
 * done: disconnect() or detach(); replaced: another link for the same node was attached; protocol: a
 * frame outside the package's protocol (text, bad CBOR, out of turn, an unsupported version); impostor:
 * a join or peer answer naming another node than the link's; silent: nothing heard for two keep-alive
 * intervals; refused: the link refused a frame (sync restarts on the next link rather than run with a gap).
 */
export const SYNC_CLOSE = { done: 1000, replaced: 4001, protocol: 4002, impostor: 4003, silent: 4008, refused: 4011 } as const

type Side = "dialer" | "acceptor"
type Frame = { type: string; senderId?: unknown; peerMetadata?: unknown; supportedProtocolVersions?: unknown; selectedProtocolVersion?: unknown }

interface Peer {
  readonly id: string
  readonly link: Link
  readonly side: Side
  /** Dialer: our join went out. */
  joined: boolean
  /** peer-candidate was emitted for this link, so its end owes a peer-disconnected. */
  announced: boolean
  /** Acceptor: a join that arrived before the repo connected us (we have no peer id to answer with yet). */
  held?: Frame
  heard: boolean
  missed: number
  /** Documents this peer refused us since it last asked us about them (see `send`). */
  readonly refusedUs: Set<string>
}

/**
 * One automerge-repo network adapter for all of a node's sync links, over
 * whatever carries them (Bun WebSockets, a simulated network): the node's
 * link code authenticates and dials, and hands each link here with the
 * node id it proved. Speaks the wire protocol of
 * @automerge/automerge-repo-network-websocket (CBOR binary frames; the
 * dialer sends `join`, the acceptor answers `peer`), so either side can be
 * that package's adapter on a node of the previous version.
 *
 * Nothing here throws at the repo or at a link's owner: a link that
 * misbehaves or loses a frame is closed, its peer reported disconnected,
 * and the sync protocol catches up on the next link the owner attaches.
 */
export class LinkSyncAdapter extends NetworkAdapter {
  readonly #timers: Timers
  readonly #keepAliveMs: number
  readonly #peers = new Map<string, Peer>()
  #connected = false
  /** The keep-alive interval, armed while any link is attached (undefined: none). */
  #keepAlive?: { handle: unknown }

  /** `keepAliveMs`: how often links are pinged; one silent for two intervals is closed. */
  constructor(opts: { timers?: Timers; keepAliveMs?: number } = {}) {
    super()
    this.#timers = opts.timers ?? systemTimers
    this.#keepAliveMs = opts.keepAliveMs ?? 5_000
  }

  /** Always: a node nobody has dialled yet must not hold up `repo.find`, which waits for every adapter. */
  isReady(): boolean {
    return true
  }
  whenReady(): Promise<void> {
    return Promise.resolve()
  }

  /** Called by the repo; links attached before this get their handshake now. */
  connect(peerId: PeerId, peerMetadata?: PeerMetadata): void {
    this.peerId = peerId
    // The repo's reconnect() passes no metadata: keep the storage id we had.
    this.peerMetadata = peerMetadata ?? this.peerMetadata ?? {}
    this.#connected = true
    for (const p of [...this.#peers.values()]) this.#start(p)
  }

  /** Called by the repo: closes every link (their owners may attach new ones, held until the next connect). */
  disconnect(): void {
    this.#connected = false
    for (const p of [...this.#peers.values()]) this.#drop(p, SYNC_CLOSE.done, "sync adapter disconnected")
  }

  /** Called by the repo. Never throws: a message with no link to carry it is dropped (its peer-disconnected went out with the link). */
  send(message: Message): void {
    const p = this.#peers.get(message.targetId)
    // A refusal is never answered with one. automerge-repo (2.5) answers any message about a document the
    // peer may not have, a refusal included, with a refusal: two nodes that each refuse the other a document
    // (their views of the cluster differ for a moment) would trade refusals for as long as both are up.
    if (message.type === "doc-unavailable" && p?.refusedUs.has(String(message.documentId))) return
    if (p?.announced && !this.#write(p, message)) this.#drop(p, SYNC_CLOSE.refused, "sync frame refused")
  }

  /**
   * Takes a link authenticated as node `peer` and returns what its owner
   * feeds with the link's events. A dialer sends `join` once the repo has
   * connected the adapter; an acceptor answers a `join` from `peer` (and
   * only from `peer`). A link already attached for `peer` is closed and
   * replaced: its peer-disconnected is emitted now, so the repo starts the
   * new link from a fresh sync state, and its late close event is ignored.
   */
  attach(peer: string, link: Link, side: Side): LinkHandlers {
    const old = this.#peers.get(peer)
    if (old) this.#drop(old, SYNC_CLOSE.replaced, "replaced by a newer sync link")
    // Opening counts as hearing from it: the silence clock starts at attach.
    const p: Peer = { id: peer, link, side, joined: false, announced: false, heard: true, missed: 0, refusedUs: new Set() }
    this.#peers.set(peer, p)
    this.#keepAlive ??= { handle: this.#timers.setInterval(() => this.#tick(), this.#keepAliveMs) }
    // Closed before its owner could attach it (a dial's close races its open): its close event is gone.
    if (!link.open) this.#drop(p)
    else if (this.#connected) this.#start(p)
    return {
      message: (data) => this.#receive(p, data),
      close: () => this.#drop(p),
      pong: () => {
        p.heard = true
      },
    }
  }

  /** Closes `peer`'s link, if any; peer-disconnected is emitted once, if the repo had been told of it. */
  detach(peer: string): void {
    const p = this.#peers.get(peer)
    if (p) this.#drop(p, SYNC_CLOSE.done, "sync link detached")
  }

  #start(p: Peer): void {
    if (p.side === "dialer" && !p.joined) {
      p.joined = true
      const join = { type: "join", senderId: this.peerId, peerMetadata: this.peerMetadata, supportedProtocolVersions: [PROTOCOL_V1] }
      if (!this.#write(p, join)) this.#drop(p, SYNC_CLOSE.refused, "join refused")
    } else if (p.held) {
      this.#accept(p, p.held)
    }
  }

  #receive(p: Peer, data: string | Uint8Array): void {
    if (this.#peers.get(p.id) !== p) return
    p.heard = true
    const frame = decode(data)
    if (!frame) return this.#drop(p, SYNC_CLOSE.protocol, "not a sync frame")
    if (frame.type === "join") {
      if (p.side !== "acceptor") return this.#drop(p, SYNC_CLOSE.protocol, "join sent to the dialer")
      if (frame.senderId !== p.id) return this.#drop(p, SYNC_CLOSE.impostor, "join names another node than the link's token")
      // A repeated join on a link already answered changes nothing (the package's client sends one per socket).
      if (p.announced || p.held) return
      if (this.#connected) this.#accept(p, frame)
      else p.held = frame
    } else if (frame.type === "peer") {
      if (p.side !== "dialer" || !p.joined) return this.#drop(p, SYNC_CLOSE.protocol, "peer answer out of turn")
      if (frame.senderId !== p.id) return this.#drop(p, SYNC_CLOSE.impostor, "answered by another node than the one dialled")
      if (frame.selectedProtocolVersion !== undefined && frame.selectedProtocolVersion !== PROTOCOL_V1) return this.#drop(p, SYNC_CLOSE.protocol, "unsupported protocol version")
      if (!p.announced) this.#announce(p, frame.peerMetadata)
    } else if (frame.type === "error") {
      // The package's server refusing our protocol version: a redial would get the same answer, but that is the owner's call.
      this.#drop(p, SYNC_CLOSE.protocol, "refused by the other node")
    } else if (p.announced && frame.senderId === p.id) {
      // Other senders are dropped, as the package's server does: only the authenticated node speaks on its link.
      const doc = String((frame as { documentId?: unknown }).documentId)
      if (frame.type === "doc-unavailable") p.refusedUs.add(doc)
      else if (frame.type === "sync" || frame.type === "request") p.refusedUs.delete(doc)
      this.emit("message", frame as unknown as Message)
    }
  }

  #accept(p: Peer, join: Frame): void {
    p.held = undefined
    const versions = join.supportedProtocolVersions
    // The package's server takes a join without versions as V1.
    if (versions !== undefined && !(Array.isArray(versions) && versions.includes(PROTOCOL_V1))) {
      this.#write(p, { type: "error", senderId: this.peerId, message: "unsupported protocol version", targetId: p.id })
      return this.#drop(p, SYNC_CLOSE.protocol, "unsupported protocol version")
    }
    const answer = { type: "peer", senderId: this.peerId, peerMetadata: this.peerMetadata, selectedProtocolVersion: PROTOCOL_V1, targetId: p.id }
    if (!this.#write(p, answer)) return this.#drop(p, SYNC_CLOSE.refused, "peer answer refused")
    this.#announce(p, join.peerMetadata)
  }

  #announce(p: Peer, meta: unknown): void {
    p.announced = true
    const peerMetadata = typeof meta === "object" && meta !== null && !Array.isArray(meta) ? (meta as PeerMetadata) : {}
    this.emit("peer-candidate", { peerId: p.id as PeerId, peerMetadata })
  }

  /** Forgets a link that is still the current one for its node; a replaced link's events land here too and change nothing. */
  #drop(p: Peer, code?: number, reason?: string): void {
    if (this.#peers.get(p.id) !== p) return
    this.#peers.delete(p.id)
    try {
      p.link.close(code, reason)
    } catch {}
    if (this.#peers.size === 0 && this.#keepAlive) {
      this.#timers.clearInterval(this.#keepAlive.handle)
      this.#keepAlive = undefined
    }
    if (p.announced) this.emit("peer-disconnected", { peerId: p.id as PeerId })
  }

  #write(p: Peer, frame: object): boolean {
    try {
      return p.link.send(cbor.encode(frame))
    } catch {
      return false
    }
  }

  #tick(): void {
    for (const p of [...this.#peers.values()]) {
      // A link that cannot be probed is not judged: its silence may only mean nobody had anything to say.
      if (!p.link.ping) continue
      if (p.heard) p.missed = 0
      else if (++p.missed >= 2) {
        this.#drop(p, SYNC_CLOSE.silent, "sync link silent")
        continue
      }
      p.heard = false
      try {
        p.link.ping()
      } catch {}
    }
  }
}

/** A frame of the package's protocol: binary CBOR of an object with a string `type`; anything else is undefined. */
function decode(data: string | Uint8Array): Frame | undefined {
  if (typeof data === "string" || data.byteLength === 0) return undefined
  try {
    const value: unknown = cbor.decode(data)
    if (typeof value === "object" && value !== null && typeof (value as Frame).type === "string") return value as Frame
  } catch {}
  return undefined
}
