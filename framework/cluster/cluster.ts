import { EventEmitter } from "node:events"
import type { Repo } from "@automerge/automerge-repo"
import type { Logger } from "../log/index.ts"
import { errorText, type MemberEvent, type NodeEventBody } from "../protocol/index.ts"
import { checkIdentityProof, identityProof, isNodeId, type LinkAuth, type LinkKind, LinkVerifier, newChallenge, signLink } from "./auth.ts"
import { CAPS, type ControlLink, type ControlMessage, type MemberStatus, controlLink, parseControl } from "./control.ts"
import { type Discovery, startDiscovery } from "./discovery.ts"
import { PhiDetector } from "./failure-detector.ts"
import { isMajority, majorityAnchor } from "./quorum.ts"
import { type Clock, systemClock } from "./clock.ts"
import type { AcceptedLink, Link } from "./link.ts"
import { bunTransport, Refused, type Transport } from "./transport.ts"
import {
  type Answer,
  checkAnswer,
  checkBody,
  fromVersion1,
  type Message,
  type MessageName,
  messages,
  PeerFailure,
  peerErrorOf,
  PeerRequestError,
  PROTOCOL_VERSION,
  type Request,
  type RequestName,
  requests,
  toPeerError,
  toVersion1,
} from "./protocol.ts"
import { SyncLinks } from "./sync.ts"

export interface ClusterOptions {
  self: { id: string; url: string; version: string }
  /** Shared by every node; links without it are refused. */
  secret: string
  repo: Repo
  /** Where to look for peers: static URLs and/or "dns:NAME[:PORT]". */
  discovery: Discovery
  /** How often a node tells its peers it is alive, ms. Default 500. */
  heartbeatMs?: number
  /** A peer silent for this long is down, ms. Default 3000. */
  failureMs?: number
  /**
   * How long a majority's answer to one heartbeat lets this node act as an
   * owner, ms. Default failureMs / 3. It must stay below failureMs: a peer
   * grants a takeover only after failureMs of silence, by then the owner's
   * lease has run out (see leaseUntil). A peer that sees this node down
   * grants sooner, once the lease this node announced is over (lapsesInMs).
   */
  leaseMs?: number
  /** How long a link token is good for, ms (clock skew between nodes plus transit). Default 60,000. */
  linkTtlMs?: number
  /** This node keeps its sessions in a data dir (they outlive its process): peers never count its copies gone. */
  persistent?: boolean
  /** A refused link, or a peer whose hello named another node than its token: count and show it (from: source address). */
  onRefused?: (from: string | undefined, refusal: Extract<LinkAuth, { ok: false }>) => void
  log: Logger
  /** Raises the node's typed events: members up, down and changing status; a failed link handler. */
  onEvent: (event: MemberEvent | Extract<NodeEventBody, { t: "link-handler-failed" }>) => void
  /** Time and timers (the simulator's, in tests). Default the runtime's. */
  clock?: Clock
  /** How peers are reached (the simulator's network, in tests). Default Bun's sockets, fetch and DNS. */
  transport?: Transport
}

export interface Member {
  id: string
  /** Set on a member that said goodbye: the sessions it handed off before it left, and to whom. */
  movedOut?: Record<string, string>
  url: string
  status: MemberStatus
  version: string
  /** What it understands beyond the first version (control.ts CAPS); an older node has fewer. */
  caps: string[]
  /** The peer protocol version its hello named (1: a node from before versions were named). */
  protocol: number
  sessions: number
  /** When we last heard from it (ms since the epoch); for self, now. */
  lastHeard: number
  up: boolean
  /**
   * Counted in the majority: every member that has not said goodbye, down
   * or not, until a majority agrees it is gone (a minority may never shrink
   * the count to make itself a majority).
   */
  voter: boolean
}

/** Who counts for a majority, and whether this node sees one. */
export interface Quorum {
  voters: string[]
  /** Voters that are up in this node's view, itself included. */
  up: string[]
  majority: boolean
}

export interface ClusterEvents {
  "node-up": [Member]
  "node-down": [Member]
  status: [Member]
  /** The control link to a peer closed (before its node-down, if it is down): frames in flight on it may be lost. */
  "link-lost": [peer: string, link: ControlLink]
}

type RequestHandler = (from: string, body: never) => Promise<unknown> | unknown
/** `via`: the link it came on (a relay opened on a link ends with it). */
type MessageHandler = (from: string, body: never, via: ControlLink) => void

interface Peer extends Member {
  link?: ControlLink
  /** Our clock when we sent the newest heartbeat this peer echoed (the lease it gives us). */
  leaseAnchor?: number
  /** The lease it announced in its hello (ms), if it announces one. */
  leaseMs?: number
  /** Our clock when we last echoed one of its heartbeats: no lease it holds from us is anchored later. */
  echoedAt?: number
  /** Whether it keeps sessions in a data dir, as its hello said (undefined: it did not say). */
  persistent?: boolean
  /** Since it went down, its address refused a connection or answered as another node: the process is gone. */
  dead?: boolean
  /** It said goodbye. Its id is its process's: a hello under it later is that process winding down, never a member again. */
  left?: boolean
}

/**
 * What a peer's lease is stretched by before we take it for over: the two
 * clocks' rates may differ a little, and an owner checks its lease an
 * instant before its acknowledgement leaves.
 */
const LEASE_MARGIN_MS = 150

/**
 * Membership and control links: who is in the cluster, in what state, and a
 * way to talk to each of them. Emits node-up / node-down / status; keeps the
 * automerge-repo peers in step with the members (the Horde NodeListener idea).
 */
export class Cluster extends EventEmitter<ClusterEvents> {
  readonly sync: SyncLinks
  readonly clock: Clock
  readonly transport: Transport
  #self: Member
  #peers = new Map<string, Peer>()
  #urls = new Set<string>()
  /** Dials in flight, by address: when each began (its token for the `finally` that ends it). */
  #dialing = new Map<string, number>()
  /** URLs whose last dial failed: the next one asks who answers there before it signs. */
  #ask = new Set<string>()
  /** Duplicate links on their way out: still read from, no longer written to. */
  #retired = new Set<ControlLink>()
  #pending = new Map<number, { peer: string; link: ControlLink; name: RequestName; resolve(v: unknown): void; reject(e: Error): void; timer: unknown }>()
  /** Answers that failed their schema, counted; each peer's first per request is logged. */
  #badAnswers = 0
  readonly #badAnswersLogged = new Set<string>()
  #rid = 0
  readonly #handlers = new Map<string, RequestHandler>()
  readonly #receivers = new Map<string, MessageHandler>()
  #timers: unknown[] = []
  #stopDiscovery: (() => void) | undefined
  #opts: Required<Omit<ClusterOptions, "self" | "linkTtlMs" | "onRefused" | "clock" | "transport" | "persistent">> & Pick<ClusterOptions, "onRefused" | "persistent">
  readonly #verifier: LinkVerifier
  /** How unlikely each peer's silence is, given its own rhythm: a busy peer's late beats are learnt, not taken for death. */
  readonly #phi: PhiDetector

  constructor(opts: ClusterOptions) {
    super()
    const failureMs = opts.failureMs ?? 3000
    this.clock = opts.clock ?? systemClock
    this.transport =
      opts.transport ??
      bunTransport(this.clock, (error) => {
        opts.log.error("cluster link handler failed", { error })
        opts.onEvent({ t: "link-handler-failed", error: errorText(error) })
      })
    this.#opts = { ...opts, heartbeatMs: opts.heartbeatMs ?? 500, failureMs, leaseMs: Math.min(opts.leaseMs ?? failureMs / 3, failureMs * 0.8) }
    this.#self = { ...opts.self, caps: CAPS, protocol: PROTOCOL_VERSION, status: "joining", sessions: 0, lastHeard: this.clock.now(), up: true, voter: true }
    this.#phi = new PhiDetector({ intervalMs: this.#opts.heartbeatMs })
    this.handle("cluster:down?", (_from, body) => this.#seesDown(body.ids))
    this.handle("bye", (from, body) => {
      const peer = this.#peers.get(from)
      if (peer) {
        this.#left(peer, body.moved)
        // Down once the answer is out: #down closes the link it goes on.
        this.clock.soon(() => this.#down(peer, "left the cluster"))
      }
      return true
    })
    this.#verifier = new LinkVerifier(opts.secret, opts.self.id, { ttlMs: opts.linkTtlMs, now: () => this.clock.now() })
    this.sync = new SyncLinks(opts.repo, opts.self.id, (to, kind) => this.#sign(to, kind), this.transport, this.clock)
  }

  get self(): Member {
    return { ...this.#self, lastHeard: this.clock.now() }
  }

  /**
   * The members that count for a majority and those of them this node sees.
   * Taking a session over needs grants from a majority (an epoch is granted
   * by a quorum, not assumed), so two sides of a partition never both can.
   */
  quorum(): Quorum {
    const voters = [this.#self.id]
    const up = [this.#self.id]
    for (const p of this.#peers.values())
      if (p.voter) {
        voters.push(p.id)
        if (p.up) up.push(p.id)
      }
    // Members a peer named that we have not met yet count too, as down: a node that has met only one
    // of three members is not the majority of a cluster of two.
    for (const id of this.#heardOf.keys()) if (!this.#peers.has(id)) voters.push(id)
    return { voters, up, majority: isMajority(up, voters) }
  }

  /**
   * Until when this node may acknowledge as an owner: a majority of the
   * voters (itself included) echoed a heartbeat it sent at time t, so none
   * of them grants a takeover before t + failureMs (they wait that long
   * after hearing from us), and the lease ends at t + leaseMs, earlier.
   * Anchored at our own send time, so a reply read late (a stalled event
   * loop) does not stretch it.
   */
  leaseUntil(): number {
    // Asked on every action and every confirmation; it changes only with what #leaseStale marks.
    if (this.#leaseCache !== undefined) return this.#leaseCache
    this.#leaseCache = this.#computeLeaseUntil()
    return this.#leaseCache
  }

  /**
   * The cached lease end is exact: with two voters or more, the majority's
   * anchor is never this node's own (`now`, always the freshest), so time
   * passing alone does not move it.
   */
  #leaseCache: number | undefined
  #leaseStale(): void {
    this.#leaseCache = undefined
  }

  #computeLeaseUntil(): number {
    const now = this.clock.now()
    const { voters } = this.quorum()
    if (voters.length === 1) return Number.POSITIVE_INFINITY
    const anchor = (id: string): number => {
      if (id === this.#self.id) return now
      const p = this.#peers.get(id)
      if (!p?.up) return Number.NEGATIVE_INFINITY
      // A node of an older version echoes nothing: what it sent last stands in (the old rules hold until the roll ends).
      return (p.caps.includes("quorum") ? p.leaseAnchor : p.lastHeard) ?? Number.NEGATIVE_INFINITY
    }
    return majorityAnchor(voters, anchor) + this.#opts.leaseMs
  }

  hasLease(): boolean {
    return this.leaseUntil() > this.clock.now()
  }

  /** How long since anything arrived from a member (Infinity for one never heard). */
  silentMs(id: string): number {
    if (id === this.#self.id) return 0
    const p = this.#peers.get(id)
    return p && p.lastHeard > 0 ? this.clock.now() - p.lastHeard : Number.POSITIVE_INFINITY
  }

  /**
   * In how many ms (≤ 0: already) this node may vote to take a member's
   * sessions over. A member up here is suspected first (failure timeout and
   * φ accrual). One down here (its link reset, its redial refused: a
   * crashed process) only has to be past the lease it announced: every
   * lease it holds from us is anchored at a heartbeat sent before the last
   * one we echoed, so none outlasts echoedAt + leaseMs. Otherwise, and for
   * a member that announced no lease, the failure timeout of silence.
   */
  lapsesInMs(id: string): number {
    const silent = this.silentMs(id)
    const p = this.#peers.get(id)
    if (p?.up) return this.suspected(id) ? this.#opts.failureMs - silent : Math.max(1, this.#opts.failureMs - silent, this.#opts.heartbeatMs)
    if (!p || p.leaseMs === undefined || p.echoedAt === undefined) return this.#opts.failureMs - silent
    return p.echoedAt + p.leaseMs + LEASE_MARGIN_MS - this.clock.now()
  }

  /**
   * Whether the copies of sessions a member held died with it: it is down
   * here, its process is gone (its address refused a connection, or
   * answers as another node), and it said it keeps no data dir.
   */
  copiesGone(id: string): boolean {
    const p = this.#peers.get(id)
    return p !== undefined && !p.up && p.dead === true && p.persistent === false
  }

  /**
   * Silent for the failure timeout and, by the φ accrual detector, beyond
   * what its own rhythm explains. The timeout is a floor, never shortened:
   * peers grant takeovers only past it (the owner's lease is over by then).
   */
  suspected(id: string): boolean {
    const now = this.clock.now()
    return this.silentMs(id) > this.#opts.failureMs && this.#phi.suspected(id, now)
  }

  get failureMs(): number {
    return this.#opts.failureMs
  }

  get heartbeatMs(): number {
    return this.#opts.heartbeatMs
  }

  /** Every member this node knows, itself first. */
  members(): Member[] {
    return [this.self, ...[...this.#peers.values()].map(({ link: _l, movedOut: _m, leaseAnchor: _a, leaseMs: _s, echoedAt: _e, persistent: _p, dead: _d, ...m }) => m)]
  }

  /** Members that are up and ready (placement candidates), itself included when ready. */
  ready(): Member[] {
    return this.members().filter((m) => m.up && m.status === "ready")
  }

  member(id: string): Member | undefined {
    if (id === this.#self.id) return this.self
    const p = this.#peers.get(id)
    return p && this.#public(p)
  }

  start(): void {
    this.#stopDiscovery = startDiscovery(this.#opts.discovery, (urls) => {
      for (const u of urls) this.#learnUrl(u)
    }, { log: this.#opts.log, onEvent: this.#opts.onEvent, clock: this.clock, transport: this.transport })
    this.#timers.push(this.clock.setInterval(() => this.#heartbeat(), this.#opts.heartbeatMs))
    this.#timers.push(this.clock.setInterval(() => this.#dialAll(), Math.max(250, this.#opts.heartbeatMs)))
  }

  setStatus(status: MemberStatus): void {
    if (this.#self.status === status) return
    this.#self.status = status
    this.#broadcast({ t: "hb", status, sessions: this.#self.sessions })
    this.emit("status", this.self)
  }

  setLoad(sessions: number): void {
    this.#self.sessions = sessions
  }

  /** Answers requests `name` (its body checked against the protocol's schema first). */
  handle<K extends RequestName>(name: K, handler: (from: string, body: Request<K>) => unknown): void {
    this.#handlers.set(name, handler as RequestHandler)
  }

  /** Takes one-way messages `name` (checked first; one that fails its schema is dropped and logged). */
  receive<K extends MessageName>(name: K, handler: (from: string, body: Message<K>, via: ControlLink) => void): void {
    this.#receivers.set(name, handler as MessageHandler)
  }

  /**
   * A request to one peer, answered with what the protocol's answer schema
   * lets through (protocol.ts, `answers`). Rejects with a PeerRequestError:
   * the peer's own refusal (its code), "bad_answer" when its answer does
   * not match the schema, or "no_link", "link_closed", "down", "timeout",
   * "stopped" when it could not be answered.
   */
  request<K extends RequestName>(peerId: string, name: K, body: Request<K>, timeoutMs = 5_000): Promise<Answer<K>> {
    const link = this.#peers.get(peerId)?.link
    if (!link?.open) return Promise.reject(new PeerRequestError({ code: "no_link", message: `no link to ${peerId}` }))
    const rid = ++this.#rid
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.#pending.delete(rid)
        reject(new PeerRequestError({ code: "timeout", message: `${name} to ${peerId} timed out after ${timeoutMs} ms` }))
      }, timeoutMs)
      this.#pending.set(rid, { peer: peerId, link, name, resolve: resolve as (v: unknown) => void, reject, timer })
      link.send({ t: "req", rid, body: { ...body, t: name } })
    })
  }

  /** Sends a message to every peer that is up and whose hello named `cap` (a message older nodes would not know). */
  sendToAll<K extends MessageName>(name: K, body: Message<K>, cap: string): void {
    for (const p of this.#peers.values()) if (p.up && p.caps.includes(cap)) this.send(p.id, name, body)
  }

  /** A one-way message to one peer; false when there is no open link. */
  send<K extends MessageName>(peerId: string, name: K, body: Message<K>): boolean {
    const link = this.#peers.get(peerId)?.link
    if (!link?.open) return false
    link.send({ t: "msg", body: { ...body, t: name } })
    return true
  }

  #dispatchRequest(from: string, body: unknown): Promise<unknown> | unknown {
    const name = (body as { t?: unknown } | null)?.t
    const handler = typeof name === "string" && Object.hasOwn(requests, name) ? this.#handlers.get(name) : undefined
    if (!handler) throw new PeerFailure({ code: "unknown_request", message: `unknown request ${JSON.stringify(name ?? null)}` })
    const checked = checkBody(requests[name as RequestName], name as string, body)
    if (!checked.ok) throw new PeerFailure(checked.error)
    return handler(from, checked.body as never)
  }

  #dispatchMessage(from: string, body: unknown, via: ControlLink): void {
    const name = (body as { t?: unknown } | null)?.t
    const handler = typeof name === "string" && Object.hasOwn(messages, name) ? this.#receivers.get(name) : undefined
    if (!handler) return this.#opts.log.warn("peer message of an unknown type dropped", { peer: from, type: typeof name === "string" ? name.slice(0, 40) : null })
    const checked = checkBody(messages[name as MessageName], name as string, body)
    if (!checked.ok) return this.#opts.log.warn("malformed peer message dropped", { peer: from, why: checked.error.message.slice(0, 300) })
    handler(from, checked.body as never, via)
  }

  /** Authenticates an incoming cluster upgrade (each token once); returns the peer node id, or a reason to refuse. */
  authenticate(url: URL, kind: LinkKind): LinkAuth {
    return this.#verifier.verify(url.searchParams, kind)
  }

  /** A fresh single-use token for one dial to node `to`. */
  #sign(to: string, kind: LinkKind): string {
    return signLink(this.#opts.secret, { from: this.#self.id, to, kind }, this.clock.now())
  }

  /**
   * A link a peer dialled to us, its token checked (`peer` is who it is):
   * the control protocol, or automerge-repo sync. `from`: its source address.
   */
  accept(kind: LinkKind, peer: string, link: AcceptedLink, from?: string): void {
    // Gone (said goodbye, still listening until the process exits): a peer redialling it must not meet it again.
    if (this.#self.status === "gone") return link.close(1001, "node leaving")
    if (kind === "sync") return this.sync.accept(peer, link)
    const control = controlLink(link, peer)
    link.handlers = {
      message: (data) => {
        const msg = parseControl(data)
        if (!msg) return control.close(4000, "control frames are JSON objects")
        if (claimsOther(msg, peer)) {
          // The token said who dialled; a hello naming anyone else is a replayed or stolen link, never a peer.
          this.#opts.onRefused?.(from, { ok: false, code: "hello-mismatch", reason: "the hello names another node than the link's token", node: peer })
          return control.close(4003, "hello names another node than the link token")
        }
        this.#receive(control, peer, msg)
      },
      close: () => this.#linkClosed(peer, control),
    }
    control.send(this.#hello())
  }

  /**
   * Says goodbye to each peer that may count this node for the majority and
   * waits, at most `ms`, for each to answer. A one-way goodbye was lost when
   * this node had no link to a peer at that moment (the peer had marked it
   * down, a frozen node, and closed the link): that peer counted it as a
   * crashed member from then on, and a survivor of two had no majority. A
   * missing link comes back meanwhile (either side redials). Peers of an
   * older version get the one-way goodbye of `stop` only.
   */
  async farewell(moved: Record<string, string> | undefined, ms: number): Promise<void> {
    const deadline = this.clock.now() + ms
    const owed = (p: Peer | undefined) => p !== undefined && p.voter && !p.dead && p.caps.includes("goodbye") && (p.up || this.clock.now() - p.lastHeard < 2 * this.#opts.failureMs)
    const unanswered: string[] = []
    // One loop per peer: a peer that does not answer does not hold the goodbye to another back.
    const sayTo = async (id: string): Promise<void> => {
      while (this.clock.now() < deadline) {
        const p = this.#peers.get(id)
        if (!owed(p)) return
        if (p?.link?.open) {
          try {
            await this.request(id, "bye", { moved }, Math.max(100, Math.min(1_000, deadline - this.clock.now())))
            // Answered: it counts this node gone (and closes any link it meets it on); not dialled again.
            this.#farewelled.add(id)
            return
          } catch {
            // No answer on this link (it closed, or the peer is saying goodbye too): looked at again at once.
            if (!owed(this.#peers.get(id))) return
          }
        }
        await this.clock.sleep(100)
      }
      unanswered.push(id)
    }
    await Promise.all([...this.#peers.values()].filter(owed).map((p) => sayTo(p.id)))
    if (unanswered.length > 0) this.#opts.log.warn("stopped without an answer to the goodbye from these peers: each counts this node as crashed until a majority drops it (unless it is down itself)", { peers: unanswered })
  }
  /** Peers that answered this node's goodbye. */
  readonly #farewelled = new Set<string>()

  /** Says goodbye to every peer (they mark us down at once) and closes all links. */
  /** `moved`: the sessions this node handed off (its peers must not take them over from a stale registry). */
  stop(moved?: Record<string, string>): void {
    this.#self.status = "gone"
    this.#stopDiscovery?.()
    for (const t of this.#timers) this.clock.clearInterval(t)
    for (const p of this.#peers.values()) {
      p.link?.send({ t: "bye", moved })
      p.link?.close(1001, "node leaving")
    }
    this.sync.close()
    for (const p of this.#pending.values()) {
      this.clock.clearTimeout(p.timer)
      p.reject(new PeerRequestError({ code: "stopped", message: "cluster stopped" }))
    }
  }

  #hello(): ControlMessage {
    return {
      t: "hello",
      id: this.#self.id,
      url: this.#self.url,
      status: this.#self.status,
      version: this.#self.version,
      sessions: this.#self.sessions,
      peers: [...this.#peers.values()].filter((p) => p.up).map((p) => ({ id: p.id, url: p.url })),
      caps: CAPS,
      protocol: PROTOCOL_VERSION,
      leaseMs: this.#opts.leaseMs,
      persistent: this.#opts.persistent === true,
    }
  }

  #learnUrl(url: string): void {
    const clean = url.replace(/\/+$/, "")
    if (clean === this.#self.url || this.#urls.has(clean)) return
    this.#urls.add(clean)
    this.#dial(clean)
  }

  #dialAll(): void {
    for (const url of this.#urls) {
      const peer = [...this.#peers.values()].find((p) => p.url === url)
      if (peer?.link?.open) continue
      // A known peer is redialled by the lower id only, so the pair does not race; the rest is dialled by anyone.
      if (peer && peer.up && this.#self.id > peer.id) continue
      this.#dial(url)
    }
  }

  /**
   * `after`: a link to that address closed at this time; a dial begun before it may be stuck behind a SYN
   * sent into a cut that has healed since (the simulator, seed 60096: a survivor never redialled a
   * crashed node, so never heard its address refuse), and does not stop a fresh one.
   */
  async #dial(url: string, after?: number): Promise<void> {
    const inFlight = this.#dialing.get(url)
    if ((inFlight !== undefined && (after === undefined || inFlight >= after)) || this.#self.status === "gone") return
    if ([...this.#peers.values()].some((p) => p.url === url && p.link?.open)) return
    const began = this.clock.now()
    this.#dialing.set(url, began)
    try {
      // A token is for one node. A URL is redialled under the id last seen there (no extra round trip,
      // as before tokens named the node dialled); a new URL, or one whose last dial failed (a restarted
      // node has a new id), is first asked who answers there.
      const there = [...this.#peers.values()].filter((p) => p.url === url)
      const known = there.find((p) => p.up) ?? there.at(-1)
      // A peer that is down is redialled every round: each try is short, so the first after a partition
      // heals is a fresh connect, not one still waiting behind a SYN sent into the cut.
      const quick = known && !known.up ? Math.max(1_000, 2 * this.#opts.heartbeatMs) : undefined
      // One that said goodbye is not dialled under its id again: asked who answers there (a new process, or it winding down).
      const peerId = known && !known.left && !this.#ask.has(url) ? known.id : await this.#whoIs(url, quick)
      // Another node answers where a down one was: that one's process is gone.
      for (const p of there) if (p.id !== peerId && !p.up) p.dead = true
      if (peerId === this.#self.id) return void this.#urls.delete(url)
      if (this.#peers.get(peerId)?.left || this.#farewelled.has(peerId)) return
      let link: ControlLink | undefined
      // Bun can hand us the peer's first frame (its hello) in the same turn as the open, before the
      // dial's promise has resolved: kept and read once the link exists, never dropped (a dropped hello
      // left a dialler without its peer for good: the rolling test hung on it once).
      const early: (string | Uint8Array)[] = []
      const read = (data: string | Uint8Array) => {
        if (!link) return void early.push(data)
        const msg = parseControl(data)
        if (!msg) return link.close(4000, "control frames are JSON objects")
        if (claimsOther(msg, peerId)) {
          // Another node answers at that address now (the one we knew there was restarted): the old one is gone.
          this.#ask.add(url)
          const gone = this.#peers.get(peerId)
          if (gone && gone.url === url) {
            if (gone.up && !gone.link?.open) this.#down(gone, "its address answers as another node")
            if (!gone.up) gone.dead = true
          }
          return link.close(4003, "hello names another node than /healthz did")
        }
        this.#receive(link, peerId, msg)
      }
      let closedEarly = false
      const raw: Link = await this.transport.dial(`${url}/cluster/control?${this.#sign(peerId, "control")}`, {
        message: read,
        close: () => (link ? this.#linkClosed(peerId, link) : void (closedEarly = true)),
      }, quick)
      link = controlLink(raw, this.#self.id)
      link.send(this.#hello())
      for (const data of early.splice(0)) read(data)
      if (closedEarly) this.#linkClosed(peerId, link)
      this.#ask.delete(url)
    } catch (error) {
      this.#ask.add(url)
      if (error instanceof NotAMember && !this.#unproven.has(url)) {
        // Said once per address: the usual cause is a BATON_CLUSTER_SECRET that differs between nodes.
        this.#unproven.add(url)
        this.#opts.log.warn("peer not dialled: it cannot prove it holds the cluster secret (is BATON_CLUSTER_SECRET the same on every node?)", { url })
      }
      // The member up at that address (a node restarted there has a new id: the old one is down already).
      const known = [...this.#peers.values()].find((p) => p.url === url && p.up)
      if (known && !known.link?.open) this.#down(known, `unreachable: ${(error as Error).message}`)
      // Nothing listens there: whoever was there is gone, with what it held in memory.
      if (error instanceof Refused) for (const p of this.#peers.values()) if (p.url === url && !p.up) p.dead = true
    } finally {
      if (this.#dialing.get(url) === began) this.#dialing.delete(url)
    }
  }

  /** Addresses whose answer failed the identity proof (logged once each). */
  readonly #unproven = new Set<string>()

  async #whoIs(url: string, timeoutMs?: number): Promise<string> {
    const challenge = newChallenge()
    // Generous unless redialling a peer that is down: a busy peer answering late is still a peer.
    const res = await this.transport.getJson(`${url}/healthz?c=${challenge}`, timeoutMs ?? Math.max(5_000, 2 * this.#opts.failureMs))
    const body = (res.body ?? {}) as { node?: unknown; proof?: unknown }
    if (!isNodeId(body.node)) throw new Error("its /healthz names no node")
    // Only a holder of the secret can prove the id: otherwise we would sign a token for whoever it names.
    if (!checkIdentityProof(this.#opts.secret, body.node, challenge, body.proof)) throw new NotAMember("its /healthz cannot prove it is a member (no proof over the cluster secret)")
    this.#unproven.delete(url)
    return body.node
  }

  /** What /healthz?c= answers for a peer asking who this node is (see auth.ts, identityProof). */
  proveIdentity(challenge: string): string | undefined {
    if (!/^[\w-]{16,64}$/.test(challenge)) return undefined
    return identityProof(this.#opts.secret, this.#self.id, challenge)
  }

  #receive(link: ControlLink, from: string, msg: ControlMessage): void {
    if (msg.t === "hello") return this.#onHello(link, msg)
    if (msg.t === "batch") {
      for (const m of msg.msgs) this.#receive(link, from, m)
      return
    }
    const peer = this.#peers.get(from)
    if (!peer || (peer.link !== link && !this.#retired.has(link))) return
    peer.lastHeard = this.clock.now()
    // An older node's lease stands on when it was last heard (see leaseUntil).
    if (!peer.caps.includes("quorum")) this.#leaseStale()
    this.#phi.heartbeat(peer.id, peer.lastHeard)
    switch (msg.t) {
      case "hb-echo":
        if (typeof msg.echo === "number" && msg.echo <= peer.lastHeard) {
          peer.leaseAnchor = Math.max(peer.leaseAnchor ?? 0, msg.echo)
          this.#leaseStale()
        }
        return
      case "hb":
        // Echoed at once, not with our next heartbeat: the lease it renews is as fresh as the round trip.
        if (typeof msg.ts === "number") {
          peer.echoedAt = this.clock.now()
          link.send({ t: "hb-echo", echo: msg.ts })
        }
        peer.sessions = msg.sessions
        if (msg.status !== peer.status) {
          peer.status = msg.status
          this.#opts.log.info("member status", { member: peer.id, status: peer.status })
          this.#opts.onEvent({ t: "member-status", member: peer.id, status: peer.status })
          this.emit("status", this.#public(peer))
        }
        return
      case "bye":
        this.#left(peer, msg.moved)
        return this.#down(peer, "left the cluster")
      case "req":
        return void Promise.resolve()
          .then(() => this.#dispatchRequest(from, msg.body))
          .then(
            (body) => link.send({ t: "res", rid: msg.rid, ok: true, body }),
            (error) => {
              const err = toPeerError(error)
              link.send({ t: "res", rid: msg.rid, ok: false, error: toVersion1(err), err })
            },
          )
      case "res": {
        const p = this.#pending.get(msg.rid)
        if (!p) return
        this.#pending.delete(msg.rid)
        this.clock.clearTimeout(p.timer)
        if (msg.ok) this.#answered(p, msg.body)
        else p.reject(new PeerRequestError(peerErrorOf(msg.err) ?? fromVersion1(typeof msg.error === "string" ? msg.error : "request failed")))
        return
      }
      case "msg":
        return this.#dispatchMessage(from, msg.body, link)
    }
  }

  /** An answer checked against its request's schema before the caller sees it; one that fails it is counted, logged, and rejected. */
  #answered(p: { peer: string; name: RequestName; resolve(v: unknown): void; reject(e: Error): void }, body: unknown): void {
    const checked = checkAnswer(p.name, body)
    if (checked.ok) return p.resolve(checked.answer)
    const error = { ...checked.error, message: `${checked.error.message} (from ${p.peer})` }
    this.#badAnswers++
    const key = `${p.peer}\0${p.name}`
    if (!this.#badAnswersLogged.has(key)) {
      // Once per peer and request: a peer of a broken build answers every request the same way.
      this.#badAnswersLogged.add(key)
      this.#opts.log.warn("malformed peer answer refused", { peer: p.peer, request: p.name, why: error.message.slice(0, 300) })
    }
    p.reject(new PeerRequestError(error))
  }

  /** Peer answers refused because they did not match their schema, since the start. */
  get badAnswers(): number {
    return this.#badAnswers
  }

  #onHello(link: ControlLink, hello: Extract<ControlMessage, { t: "hello" }>): void {
    if (hello.id === this.#self.id) {
      this.#urls.delete(hello.url)
      return link.close(1000, "that is me")
    }
    const known = this.#peers.get(hello.id)
    if (hello.status === "gone" || known?.left) {
      // A member that said goodbye, met again before its process exited (a redial of a member that is
      // down, or its own while it waits for its other peers' answers): as good as its goodbye. Up again
      // it would be a voter, and a crashed one once it exits.
      if (known) {
        this.#left(known)
        if (known.up) this.#down(known, "left the cluster")
      }
      return link.close(1000, "node gone")
    }
    this.#leaseStale()
    for (const p of hello.peers) {
      this.#learnUrl(p.url)
      // One process per address: a member named at our own address, or at one that answers as another
      // member now, was replaced there and never comes back; counted as a voter it would hold the majority
      // out of reach for good once others die too (the simulator, seed 9244: three nodes powered off and
      // replaced one after another left six voters, three of them alive).
      const replaced = p.url === this.#self.url || [...this.#peers.values()].some((q) => q.up && q.url === p.url && q.id !== p.id)
      if (isNodeId(p.id) && p.id !== this.#self.id && !this.#peers.has(p.id) && !this.#heardOf.has(p.id) && !replaced) this.#heardOf.set(p.id, { at: this.clock.now(), url: p.url })
    }
    this.#heardOf.delete(hello.id)
    this.#urls.add(hello.url)
    link.batching = hello.caps?.includes("batch") ?? false
    let peer = this.#peers.get(hello.id)
    if (peer?.link?.open && peer.link !== link) {
      // Two links for one pair (both dialled at once): both sides keep sending on the one the
      // lower id dialled. The other is retired, not cut: messages already in flight on it still
      // arrive and are handled, and it closes once they have had time to.
      const keepNew = link.dialer === (this.#self.id < hello.id ? this.#self.id : hello.id)
      const retired = keepNew ? peer.link : link
      this.#retired.add(retired)
      this.clock.setTimeout(() => {
        this.#retired.delete(retired)
        retired.close(1000, "duplicate link")
      }, 5_000)
      if (!keepNew) return
      // The link we sent on is the one retired. The peer may have closed it already: a node frozen past
      // the failure timeout wakes to the peer's new link before it reads the old one's close, and would
      // then never hear it lost (its close is no longer the current link's). What we sent on it may be
      // gone: whoever sent over it (relays) must act as after a lost link.
      const replaced = peer.link
      peer.link = link
      this.emit("link-lost", hello.id, replaced)
    }
    const wasUp = peer?.up ?? false
    // A member never met before: the cluster re-formed around the ones dropped while unreachable.
    if (!peer) this.#pruned.clear()
    peer ??= { id: hello.id, url: hello.url, status: hello.status, version: hello.version, caps: [], protocol: 1, sessions: 0, lastHeard: 0, up: false, voter: true }
    Object.assign(peer, { url: hello.url, status: hello.status, version: hello.version, caps: hello.caps ?? [], protocol: typeof hello.protocol === "number" ? hello.protocol : 1, sessions: hello.sessions, lastHeard: this.clock.now(), up: true, voter: true, link })
    // A lease we cannot read is no lease: that peer's sessions wait the failure timeout.
    peer.leaseMs = typeof hello.leaseMs === "number" && hello.leaseMs > 0 && hello.leaseMs <= 600_000 ? hello.leaseMs : undefined
    peer.persistent = typeof hello.persistent === "boolean" ? hello.persistent : undefined
    peer.dead = false
    this.#peers.set(peer.id, peer)
    this.#pruned.delete(peer.id)
    // One process per address: a member we knew there, with no link left, was replaced by this one.
    // It no longer counts for the majority either (it cannot come back: its address answers as another).
    for (const old of this.#peers.values())
      if (old !== peer && old.url === peer.url && !old.link?.open) {
        if (old.up) this.#down(old, `its address answers as ${peer.id} now`)
        old.dead = true
        old.voter = false
      }
    for (const [id, heard] of this.#heardOf) if (heard.url === peer.url && id !== peer.id) this.#heardOf.delete(id)
    this.#leaseStale()
    if (!wasUp) this.#phi.reset(peer.id, peer.lastHeard)
    if (link.dialer !== this.#self.id) link.send(this.#hello())
    // A heartbeat at once: its echo is this node's lease, and a forming cluster should not wait a beat for it.
    if (!wasUp) link.send({ t: "hb", status: this.#self.status, sessions: this.#self.sessions, ts: this.clock.now() })
    this.sync.connect(peer.id, peer.url)
    if (!wasUp) {
      this.#opts.log.info("node-up", { member: peer.id, url: peer.url, status: peer.status, version: peer.version })
      this.#opts.onEvent({ t: "member-up", member: peer.id, url: peer.url, status: peer.status, version: peer.version })
      this.emit("node-up", this.#public(peer))
    }
  }

  #linkClosed(peerId: string, link: ControlLink): void {
    this.#retired.delete(link)
    // Requests in flight on it will get no answer: fail them now rather than at their timeout. That
    // holds for a link already replaced too (a frozen node woke to the peer's new link, then read the
    // old one's close): requests sent on the new one stay.
    this.#failPending(peerId, "link_closed", `link to ${peerId} closed`, link)
    const peer = this.#peers.get(peerId)
    if (!peer || peer.link !== link) return
    peer.link = undefined
    this.emit("link-lost", peerId, link)
    // A process that died refuses the redial at once: that is a faster verdict than the heartbeat timeout.
    const closedAt = this.clock.now()
    if (peer.up && this.#self.id < peer.id) this.#dial(peer.url, closedAt)
    else if (peer.up) this.clock.setTimeout(() => !peer.link?.open && peer.up && this.#dial(peer.url, closedAt), this.#opts.heartbeatMs)
  }

  #heartbeat(): void {
    const now = this.clock.now()
    const hb: ControlMessage = { t: "hb", status: this.#self.status, sessions: this.#self.sessions, ts: now }
    for (const p of this.#peers.values()) {
      if (!p.up) continue
      if (this.suspected(p.id)) void this.#suspect(p, now - p.lastHeard)
      else p.link?.send(hb)
    }
    this.#pruneVoters(now)
  }

  /**
   * A member down for a while stops counting for the majority, but only by
   * the decision of a side that is a majority without it: the minority side
   * of a partition keeps counting the members it cannot see, so it can
   * never become a majority by forgetting them.
   */
  /** Members dropped from the majority while unreachable (not gracefully gone): back in it when heard again. */
  #pruned = new Set<string>()
  get pruned(): number {
    return this.#pruned.size
  }

  /** Members named in a peer's hello that we have not met yet: since when, and where (a member at that address replaces it). */
  #heardOf = new Map<string, { at: number; url: string }>()

  #pruneVoters(now: number): void {
    const dead = [...this.#peers.values()].filter((p) => p.voter && !p.up && now - p.lastHeard > 2 * this.#opts.failureMs).map((p) => p.id)
    const unmet = [...this.#heardOf].filter(([id, heard]) => !this.#peers.has(id) && now - heard.at > 2 * this.#opts.failureMs).map(([id]) => id)
    if ((dead.length === 0 && unmet.length === 0) || this.#pruning || !this.quorum().majority) return
    this.#pruning = true
    void this.#agreeDown([...dead, ...unmet]).finally(() => (this.#pruning = false))
  }
  #pruning = false

  /**
   * Drops members from the majority only when a majority of the voters
   * sees them down too: with a one-way cut (A cannot hear C, B hears both),
   * A alone must not shrink its count to {A, B} while C shrinks its own to
   * {B, C}; each would then win the tie rule on its own.
   */
  async #agreeDown(ids: string[]): Promise<void> {
    const { voters, up } = this.quorum()
    const peers = up.filter((id) => id !== this.#self.id)
    const answers = await Promise.all(
      peers.map(async (peer) => {
        try {
          return { peer, down: await this.request(peer, "cluster:down?", { ids }, 1_000) }
        } catch {
          return { peer, down: undefined }
        }
      }),
    )
    for (const id of ids) {
      const agree = [this.#self.id, ...answers.filter((a) => a.down?.includes(id)).map((a) => a.peer)]
      if (!isMajority(agree, voters)) continue
      const p = this.#peers.get(id)
      if (p?.up) continue // back meanwhile
      this.#heardOf.delete(id)
      this.#leaseStale()
      if (p) {
        p.voter = false
        this.#pruned.add(id)
      }
      this.#opts.log.info("member no longer counted for the majority", { member: id, agreed: agree.length, voters: voters.length })
    }
  }

  /** Which of these members this node sees down (a peer deciding whether to drop them from the majority). */
  #seesDown(ids: string[]): string[] {
    return ids.filter((id) => this.#peers.get(id)?.up !== true || this.suspected(id))
  }

  #probing = new Set<string>()

  /**
   * A silent peer may only be busy (an event loop stalled by a burst of
   * work): ask its /healthz directly before declaring it down, since a
   * wrong verdict makes another node take its sessions over.
   */
  async #suspect(p: Peer, silentMs: number): Promise<void> {
    if (this.#probing.has(p.id)) return
    this.#probing.add(p.id)
    const heardBefore = p.lastHeard
    // A verdict on the silence the probe was about: a peer heard while it was out (it woke, and may be
    // saying goodbye on its link right now) is not silent, whatever became of the probe.
    const downIfStillSilent = () => {
      if (p.lastHeard === heardBefore) this.#down(p, `silent for ${silentMs} ms`)
    }
    try {
      const res = await this.transport.getJson(`${p.url}/healthz`, Math.max(500, this.#opts.failureMs / 2))
      const body = (res.body ?? {}) as { node?: string }
      if (res.ok && body.node === p.id) {
        p.lastHeard = this.clock.now()
        if (!p.caps.includes("quorum")) this.#leaseStale()
        return
      }
      downIfStillSilent()
    } catch {
      downIfStillSilent()
    } finally {
      this.#probing.delete(p.id)
    }
  }

  /**
   * It said goodbye: out of the majority for good (its id never comes back; a
   * new process at its address has a new one). `moved`, the sessions it handed
   * off, is read by node-down's listeners: kept from its first goodbye, and
   * only while it is up (one already down has had its node-down).
   */
  #left(peer: Peer, moved?: Record<string, string>): void {
    if (!peer.left && peer.up) peer.movedOut = moved
    peer.left = true
    peer.voter = false
    this.#leaseStale()
  }

  #down(peer: Peer, why: string): void {
    if (!peer.up) return
    peer.up = false
    this.#leaseStale()
    this.#phi.forget(peer.id)
    const lost = peer.link
    peer.link?.close(1000, "marked down")
    peer.link = undefined
    if (lost) this.emit("link-lost", peer.id, lost)
    // Requests waiting on it will not be answered: fail them now, not at their timeout (a drain's
    // handoff to a node cut off mid-request held its session frozen for the full 10 s).
    this.#failPending(peer.id, "down", `${peer.id} is down (${why})`)
    this.sync.disconnect(peer.id)
    this.#opts.log.info("node-down", { member: peer.id, why })
    this.#opts.onEvent({ t: "member-down", member: peer.id, why })
    this.emit("node-down", this.#public(peer))
    peer.movedOut = undefined
  }

  #failPending(peerId: string, code: string, why: string, link?: ControlLink): void {
    for (const [rid, p] of this.#pending)
      if (p.peer === peerId && (!link || p.link === link)) {
        this.#pending.delete(rid)
        this.clock.clearTimeout(p.timer)
        p.reject(new PeerRequestError({ code, message: why }))
      }
  }

  #broadcast(msg: ControlMessage): void {
    for (const p of this.#peers.values()) if (p.up) p.link?.send(msg)
  }

  #public(p: Peer): Member {
    const { link: _l, leaseAnchor: _a, leaseMs: _s, echoedAt: _e, persistent: _p, dead: _d, ...m } = p
    return m
  }
}


/** A hello (alone or in a batch) naming another node than the one the link is with. */
function claimsOther(msg: ControlMessage, peer: string): boolean {
  if (typeof msg !== "object" || msg === null) return false
  if (msg.t === "hello") return msg.id !== peer
  return msg.t === "batch" && Array.isArray(msg.msgs) && msg.msgs.some((m) => claimsOther(m, peer))
}

class NotAMember extends Error {}
