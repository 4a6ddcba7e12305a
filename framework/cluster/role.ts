import type { AutomergeUrl, DocHandle } from "@automerge/automerge-repo"
import { Cluster, type Member } from "./cluster.ts"
import type { Transport } from "./transport.ts"
import type { Discovery } from "./discovery.ts"
import { rank, replicaSet } from "./placement.ts"
import type { ClientMessage, OpenSession } from "../protocol/index.ts"
import type { SessionRecord } from "../game/index.ts"
import { newestCheckpoint, type SessionDoc } from "../store/index.ts"
import { type ClaimedRequest, Handoff, type HandoffRequest, type HostingRequest } from "./handoff.ts"
import type { NodePort } from "./port.ts"
import type { CopyRequest, GrantRequest, RetractMessage } from "./takeover.ts"
import { asPublic, clientError, errorFromWire, errorToWire, type PlayerLink } from "../protocol/index.ts"
import { SampleWindow } from "../metrics/index.ts"
import { type ReplicationMessage, Replicator } from "./replication.ts"

export interface ClusterConfig {
  /** The URL peers reach this node at. */
  url: string
  /** The app's version: placement prefers the newest. */
  version: string
  secret: string
  discovery: Discovery
  /** Owner plus replicas holding each session's document. Default 2. */
  replicas?: number | "all"
  heartbeatMs?: number
  failureMs?: number
  /** How long a majority's answer lets a node act as an owner (default failureMs / 2; see Cluster.leaseUntil). */
  leaseMs?: number
  /** How long a link token is good for, ms (default 60,000). */
  linkTtlMs?: number
  /** How peers are reached (the simulator's network, in tests). Default Bun's sockets. */
  transport?: Transport
}

/** How long a replica keeps its copy of a session after leaving its replica set (its owner alive), ms. */
const SHADOW_GRACE_MS = 30_000

/** Replica documents a node starts fetching per round (every 50 ms while there are more). */
const FOLLOW_PER_ROUND = 25

type Body =
  | HandoffRequest
  | ClaimedRequest
  | GrantRequest
  | CopyRequest
  | RetractMessage
  | HostingRequest
  | ReplicationMessage
  | { t: "create"; game: string; options?: unknown; id: string; seed?: string }
  | { t: "where"; session: string }
  | { t: "copy-on"; session: string; epoch: number; record: SessionRecord }
  | { t: "list" }
  | { t: "timeline"; since: number }
  | { t: "info"; session: string; public?: boolean }
  | { t: "open"; game: string }
  | { t: "relay-open"; conn: string; msg: ClientMessage }
  | { t: "relay-in"; conn: string; msg: ClientMessage }
  | { t: "relay-end"; conn: string }
  | { t: "relay-out"; conn: string; frame: string }
  | { t: "relay-close"; conn: string; code: number; reason: string }

interface Relayed {
  peer: string
  conn: string
  link: PlayerLink
  /** The join that opened it: replayed to the new owner when the session moves. */
  join: Extract<ClientMessage, { t: "join" }>
  /** Messages that arrive while the relay is being re-pointed. */
  pending?: ClientMessage[]
  /** The player was told the owner is not answering. */
  silent?: boolean
}

/**
 * The node's part in a cluster: placement of new sessions, which documents
 * go to which peers (replica sets), replicas following their documents, and
 * relaying players to the owner of their session.
 */
export class ClusterRole {
  readonly cluster: Cluster
  readonly handoff: Handoff
  readonly replicator: Replicator
  /** How old the changes were when a replica got them (the control-link stream). */
  readonly replicaLag = new SampleWindow(10_000)
  /** How old a checkpoint was when it reached a replica's automerge document. */
  readonly documentLag = new SampleWindow(10_000)
  #node: NodePort
  #replicas: number | "all"
  /** Replica copies this node follows: session id → handle, and how to stop listening to it. */
  #following = new Map<string, { handle: DocHandle<SessionDoc>; off: () => void }>()
  /** Players here whose session runs elsewhere: conn id → where. */
  #outbound = new Map<string, Relayed>()
  #byLink = new Map<PlayerLink, Relayed>()
  /** Players elsewhere whose session runs here: "peer/conn" → their link. */
  #inbound = new Map<string, { link: PlayerLink; via: unknown }>()

  constructor(node: NodePort, cfg: ClusterConfig) {
    this.#node = node
    this.#replicas = cfg.replicas ?? 2
    this.cluster = new Cluster({
      self: { id: node.id, url: cfg.url.replace(/\/+$/, ""), version: cfg.version },
      secret: cfg.secret,
      repo: node.store.repo,
      discovery: cfg.discovery,
      heartbeatMs: cfg.heartbeatMs,
      failureMs: cfg.failureMs,
      leaseMs: cfg.leaseMs,
      linkTtlMs: cfg.linkTtlMs,
      onRefused: (from, r) => node.refused(from, r, "/cluster/control"),
      log: node.log,
      onEvent: (event) => node.emit(event),
      clock: node.clock,
      transport: cfg.transport,
    })
    const registryId = node.store.registryHandle.documentId as string
    node.store.share({
      // The registry goes everywhere; a session document only to its replica set.
      announce: (peer, doc) => doc === registryId || this.#replicaSetOfDoc(doc).includes(peer),
      access: (peer) => this.cluster.member(peer)?.up === true,
    })
    this.replicator = new Replicator(
      this.cluster,
      node.id,
      (session) => this.replicaSet(session),
      node,
      (session) => node.hosted(session)?.epoch,
      (session, epoch) => {
        const mine = node.hosted(session)?.epoch
        if (mine !== undefined && mine < epoch) node.release(session, `fenced: a replica knows epoch ${epoch}`)
      },
      (session) => node.hosted(session),
      (ms) => this.replicaLag.add(ms),
      (h) => {
        // Alone by design (every other member left, or is leaving, gracefully): the lone node's rules.
        // Otherwise a replica must hold the change before its ack: the acks wait, the players are told.
        if (this.aloneByDesign()) node.secureLocally(h)
      },
      () => this.cluster.hasLease(),
      // A replica that voted for a newer epoch (a takeover under way) confirms nothing of the old owner's.
      (session) => this.handoff?.takeover.promisedEpoch(session),
    )
    this.handoff = new Handoff(node, this.cluster, (session) => this.replicator.shadow(session))
    this.handoff.copyOn = (session, target, record, epoch, deadline) => this.#copyOn(session, [target], epoch, record, deadline).then(() => {})
    this.cluster.onRequest((from, body) => this.#onRequest(from, body as Body))
    this.cluster.onMessage((from, body, via) => this.#onMessage(from, body as Body, via))
    const reshare = () => {
      this.#replicaSets.clear()
      node.store.repo.shareConfigChanged()
      // Replica sets moved: every session may be ours to follow now, or no longer.
      this.#lookAtAll = true
      this.#followSoon()
      // A node from before the registry's buckets reads flat entries only: keep them while one is here.
      node.store.setFlatRegistryReaders(this.cluster.members().some((m) => m.up && !m.caps.includes("registry-buckets")))
      // New replicas get the whole record now, not at the session's next change: until they hold it,
      // the acknowledged actions are only where the old replica set was.
      this.replicator.resync()
    }
    this.cluster.on("node-up", reshare)
    this.cluster.on("node-down", reshare)
    this.cluster.on("link-lost", (peer, link) => this.#linkLost(peer, link))
    this.cluster.on("status", reshare)
    node.store.onEntriesChanged((ids) => {
      for (const id of ids) this.#toLook.add(id)
      this.#followSoon()
    })
    this.cluster.start()
    // Sessions whose owner is gone or cut off are taken over once a majority agrees: asked again
    // periodically, since a majority lost in a partition comes back when it heals. The first look
    // waits for membership to settle (a whole-cluster restart from disk: owners not met yet).
    const every = Math.max(250, (cfg.failureMs ?? 3_000) / 4)
    const timers = this.cluster.clock
    this.#orphanTimer = timers.setTimeout(() => {
      this.#sweepTimer = timers.setInterval(() => void this.handoff.sweep(), every)
    }, Math.max(1_000, (cfg.failureMs ?? 3_000) / 2))
    this.#relayWatch = timers.setInterval(() => {
      this.#watchRelays()
      node.leaseCheck(this.cluster.hasLease())
    }, 100)
  }
  #orphanTimer: unknown
  #sweepTimer: unknown
  #relayWatch: unknown

  /**
   * Players relayed to an owner this node has not heard from for a while
   * (a partition, a stalled owner) are told so at once, and told again when
   * it answers: their actions are kept and resent, nothing is lost.
   */
  #watchRelays(): void {
    // A heartbeat late by a quarter second: the player hears of it within about half a second of a cut.
    const late = this.cluster.heartbeatMs + 250
    for (const r of this.#outbound.values()) {
      const silent = this.cluster.silentMs(r.peer) > late || this.cluster.member(r.peer)?.up === false
      if (silent === !!r.silent) continue
      r.silent = silent
      r.link.send(
        JSON.stringify(
          silent
            ? { t: "notice", code: "owner_unreachable", message: "this node cannot reach the node running the session (a network partition, or that node is overloaded): actions wait, none is lost" }
            : { t: "notice", code: "resolved", message: "the session's node answers again" },
        ),
      )
    }
  }

  /**
   * No other member counts for the majority except ones leaving gracefully,
   * and none was dropped for being unreachable: the cluster is this node.
   */
  aloneByDesign(): boolean {
    const { voters } = this.cluster.quorum()
    if (this.cluster.pruned > 0) return false
    return voters.every((id) => id === this.#node.id || (this.cluster.member(id)?.up === true && this.cluster.member(id)?.status === "draining"))
  }

  /** The node placement names for a new session. */
  ownerFor(sessionId: string): Member {
    return rank(sessionId, this.cluster.ready())[0] ?? this.cluster.self
  }

  replicaSet(sessionId: string): string[] {
    let set = this.#replicaSets.get(sessionId)
    if (!set) this.#replicaSets.set(sessionId, (set = replicaSet(sessionId, this.cluster.ready(), this.#replicas).map((m) => m.id)))
    return set
  }
  /**
   * Replica sets change only when membership does: they are asked for per
   * session per replication round and per document per peer whenever
   * automerge-repo re-evaluates what to share (thousands of hashes a time).
   */
  #replicaSets = new Map<string, string[]>()

  async createRemote(owner: string, game: string, options: unknown, id: string, seed?: string): Promise<unknown> {
    try {
      return await this.cluster.request(owner, { t: "create", game, options, id, seed } satisfies Body)
    } catch (error) {
      // Only a BatonError the owner marked as one is shown; a timeout or an exception's text is logged here.
      throw errorFromWire(error) ?? clientError(error, this.#node, { session: id, game, owner, where: "relayed create" }, "unavailable", 503)
    }
  }

  /** A player here joins a session that is not here: find its owner and relay. */
  async relayJoin(link: PlayerLink, msg: Extract<ClientMessage, { t: "join" }>): Promise<((m: ClientMessage) => void) | undefined> {
    let owner = await this.#locate(msg.session)
    // A session in the middle of a move is briefly nowhere: look again before saying it does not exist.
    for (let i = 0; !owner && i < 10 && this.#node.store.entry(msg.session)?.status === "open"; i++) {
      await this.#node.clock.sleep(100)
      owner = await this.#locate(msg.session)
    }
    if (!owner) return undefined
    const r: Relayed = { peer: owner, conn: crypto.randomUUID(), link, join: msg }
    this.#outbound.set(r.conn, r)
    this.#byLink.set(link, r)
    this.cluster.send(owner, { t: "relay-open", conn: r.conn, msg } satisfies Body)
    return (m) => {
      const cur = this.#byLink.get(link)
      if (!cur) return
      if (cur.pending) cur.pending.push(m)
      else this.cluster.send(cur.peer, { t: "relay-in", conn: cur.conn, msg: m } satisfies Body)
    }
  }

  /** Sessions of every member that answers within a second (a cluster-wide GET /sessions). */
  async listAll(): Promise<unknown[]> {
    const peers = this.cluster.members().filter((m) => m.up && m.id !== this.#node.id)
    const lists = await Promise.all(peers.map((p) => this.cluster.request(p.id, { t: "list" } satisfies Body, 1_000).catch(() => [])))
    return [...this.#node.sessions(), ...lists.flat()]
  }

  /** Every member's timeline, merged by time (the dashboard's feed). */
  async timelineAll(since: number): Promise<unknown[]> {
    const peers = this.cluster.members().filter((m) => m.up && m.id !== this.#node.id)
    const lists = await Promise.all(peers.map((p) => this.cluster.request(p.id, { t: "timeline", since } satisfies Body, 1_000).catch(() => [])))
    return [...this.#node.timeline(since), ...(lists.flat() as { time: number }[])].sort((a, b) => (a as { time: number }).time - (b as { time: number }).time)
  }

  /** The registry as this node has it, with each session's replica set (the dashboard's session table). */
  registry(): { id: string; game: string; owner: string; epoch: number; status: string; replicas: string[] }[] {
    return this.#node.store.entries().map(([id, e]) => ({ id, game: e.game, owner: e.owner, epoch: e.epoch, status: e.status, replicas: this.replicaSet(id) }))
  }

  /** One session's summary from whichever node runs it. */
  async info(session: string, view: "operator" | "public" = "operator"): Promise<unknown> {
    const pub = view === "public"
    if (this.#node.hasSession(session)) return pub ? this.#node.publicSession(session) : this.#node.session(session)
    const owner = await this.#locate(session)
    if (!owner) return undefined
    const answer = await this.cluster.request(owner, { t: "info", session, public: pub } satisfies Body, 2_000)
    return pub ? asPublic(answer) : answer
  }

  /** The public listing across the cluster: open sessions of `game` with a seat free, oldest first. */
  async openAll(game: string, max = 100): Promise<unknown[]> {
    const peers = this.cluster.members().filter((m) => m.up && m.id !== this.#node.id)
    const lists = await Promise.all(peers.map((p) => this.cluster.request(p.id, { t: "open", game } satisfies Body, 1_000).catch(() => [])))
    const theirs = (lists as unknown[]).flatMap((l) => (Array.isArray(l) ? l : [])).map(asPublic).filter((x): x is OpenSession => x !== undefined)
    const all: OpenSession[] = [...(this.#node.openSessions(game) as OpenSession[]), ...theirs]
    return all.sort((a, b) => a.createdAt - b.createdAt).slice(0, max)
  }

  /** The player's connection here closed. */
  relayEnd(link: PlayerLink): void {
    const r = this.#byLink.get(link)
    if (!r) return
    this.#byLink.delete(link)
    this.#outbound.delete(r.conn)
    this.cluster.send(r.peer, { t: "relay-end", conn: r.conn } satisfies Body)
  }

  /**
   * The session moved: point the relay at its new owner and join again
   * there. The player sees a fresh "joined" (its SDK resends what was not
   * acknowledged) and no disconnect.
   */
  async #repoint(r: Relayed, reason: string): Promise<void> {
    this.#outbound.delete(r.conn)
    r.pending = []
    const startedAt = this.#node.clock.now()
    let owner: string | undefined
    let local = false
    // While the registry still has the session open, someone will run it (a takeover may wait for a
    // majority, a partition to heal): the player stays attached, told why, rather than sent away to retry.
    const open = () => this.#node.store.entry(r.join.session)?.status === "open"
    // Told within half a second, however long each look takes (a peer that stopped answering costs a timeout).
    const told = this.cluster.clock.setTimeout(() => r.link.send(JSON.stringify({ t: "notice", code: "owner_unreachable", message: `no reachable node runs session ${r.join.session} now: waiting for it, nothing is lost` })), 500)
    for (let attempt = 0; (attempt < 30 || (open() && attempt < 600)) && !owner && !local && this.#byLink.get(r.link) === r; attempt++) {
      local = this.#node.hasSession(r.join.session)
      owner = local ? undefined : await this.#locate(r.join.session)
      if (!owner && !local) await this.#node.clock.sleep(attempt < 30 ? 100 : 250)
    }
    this.cluster.clock.clearTimeout(told)
    if (this.#byLink.get(r.link) !== r) return
    if (local) {
      this.#byLink.delete(r.link)
      return this.#node.rejoinLocally(r.link, r.join, r.pending.splice(0))
    }
    if (!owner) {
      this.#byLink.delete(r.link)
      return r.link.close(4010, reason)
    }
    this.#node.log.info("relay re-pointed", { session: r.join.session, to: owner, waitedMs: this.#node.clock.now() - startedAt })
    r.peer = owner
    r.conn = crypto.randomUUID()
    this.#outbound.set(r.conn, r)
    this.cluster.send(owner, { t: "relay-open", conn: r.conn, msg: r.join } satisfies Body)
    for (const m of r.pending.splice(0)) this.cluster.send(owner, { t: "relay-in", conn: r.conn, msg: m } satisfies Body)
    r.pending = undefined
  }

  /**
   * A leaving node never takes the only copy of acknowledged changes with
   * it: every session it is a replica of gets its copy handed to the
   * replicas placement names without it (the owner streams to them too, but
   * may die before it has). Waits for each to confirm, until the deadline.
   */
  async handOnCopies(deadline: number): Promise<{ sessions: number; handed: number; failed: string[] }> {
    const jobs: Promise<{ sent: number; handed: number; failed: string[] }>[] = []
    for (const [session, { epoch, record }] of this.replicator.shadows()) {
      const e = this.#node.store.entry(session)
      if (!e || e.status !== "open" || e.owner === this.#node.id || this.#node.hasSession(session)) continue
      jobs.push(this.#copyOn(session, [e.owner], epoch, record, deadline))
    }
    const all = await Promise.all(jobs)
    return { sessions: all.reduce((n, x) => n + x.sent, 0), handed: all.reduce((n, x) => n + x.handed, 0), failed: all.flatMap((x) => x.failed) }
  }

  /**
   * Which of these sessions a newer owner runs: a member hosts it, or the
   * registry names another owner at a higher epoch. Undefined when a member
   * that is up did not answer (the caller asks again).
   */
  async runElsewhere(ids: string[]): Promise<Set<string> | undefined> {
    const out = new Set<string>()
    for (const id of ids) {
      const e = this.#node.store.entry(id)
      const mine = this.#node.hosted(id)?.epoch
      if (e && mine !== undefined && e.epoch > mine && e.owner !== this.#node.id) out.add(id)
    }
    const peers = this.cluster.members().filter((m) => m.up && m.id !== this.#node.id)
    const answers = await Promise.all(peers.map((p) => this.cluster.request(p.id, { t: "hosting", sessions: ids } satisfies Body, 1_000).catch(() => undefined)))
    if (answers.some((a) => !Array.isArray(a))) return undefined
    const asked = new Set(ids)
    for (const a of answers as string[][]) for (const id of a) if (asked.has(id)) out.add(id)
    return out
  }

  /** Sends a session's record to its replicas other than `except` (placement without this node), and waits for each. */
  async #copyOn(session: string, except: string[], epoch: number, record: SessionRecord, deadline: number): Promise<{ sent: number; handed: number; failed: string[] }> {
    const targets = this.replicaSet(session).filter((id) => id !== this.#node.id && !except.includes(id) && this.cluster.member(id)?.up)
    const failed: string[] = []
    let handed = 0
    await Promise.all(
      targets.map((to) =>
        this.cluster.request(to, { t: "copy-on", session, epoch, record } satisfies Body, Math.max(100, deadline - this.#node.clock.now())).then(
          () => void handed++,
          (error) => void failed.push(`${session} → ${to}: ${(error as Error).message}`),
        ),
      ),
    )
    return { sent: targets.length, handed, failed }
  }

  /** What this node knows and holds of one session (for operators and tests). */
  inspect(session: string) {
    const entry = this.#node.store.entry(session)
    const docId = entry?.doc.replace(/^automerge:/, "")
    const handle = docId ? this.#node.store.repo.handles[docId as never] : undefined
    const doc = handle?.isReady() ? (handle.doc() as SessionDoc | undefined) : undefined
    const newest = newestCheckpoint(doc)
    return {
      session,
      entry: entry ?? null,
      replicaSet: this.replicaSet(session),
      holds: !!newest,
      rev: newest?.rev ?? null,
      epoch: doc ? Number(doc.epoch) : null,
    }
  }

  stats() {
    return {
      replicas: this.#replicas,
      following: this.#following.size,
      relayedOut: this.#outbound.size,
      relayedIn: this.#inbound.size,
      replicaLagMs: this.replicaLag.summary(),
      documentLagMs: this.documentLag.summary(),
    }
  }

  stop(moved?: Record<string, string>): void {
    this.#stopped = true
    this.replicator.stop()
    this.#node.clock.clearTimeout(this.#followTimer)
    this.#node.clock.clearTimeout(this.#pruneTimer)
    this.cluster.clock.clearTimeout(this.#orphanTimer)
    this.cluster.clock.clearInterval(this.#sweepTimer)
    this.cluster.clock.clearInterval(this.#relayWatch)
    this.cluster.stop(moved)
  }

  async #locate(session: string): Promise<string | undefined> {
    const entry = this.#node.store.entry(session)
    const candidates = [entry?.owner, ...rank(session, this.cluster.ready()).map((m) => m.id)].filter(
      (id, i, all): id is string => !!id && id !== this.#node.id && all.indexOf(id) === i && this.cluster.member(id)?.up === true,
    )
    // The registry can lag a fresh session by a sync round: ask the likely owners, all at once (one that
    // stopped answering must not make the others wait for its timeout); only the one running it says yes.
    if (candidates.length === 0) return undefined
    const asks = candidates.map((peer) =>
      this.cluster.request(peer, { t: "where", session } satisfies Body, 2_000).then((has) => (has === true ? peer : Promise.reject(new Error("not there")))),
    )
    return Promise.any(asks).catch(() => undefined)
  }

  #onRequest(from: string, body: Body): unknown {
    switch (body.t) {
      case "create":
        try {
          return this.#node.createLocal(body.game, body.options, body.id, body.seed)
        } catch (error) {
          throw errorToWire(clientError(error, this.#node, { session: body.id, game: body.game, where: "create for a peer" }))
        }
      case "handoff":
        try {
          return this.handoff.accept(body)
        } catch (error) {
          throw new Error(`refused: ${(error as Error).message}`)
        }
      case "claimed":
        return this.handoff.claimed(body)
      case "grant":
        return this.handoff.takeover.grant(from, body)
      case "copy":
        return this.handoff.takeover.copy(body)
      case "hosting":
        return this.handoff.hosting(body)
      case "where":
        return this.#node.hasSession(body.session)
      case "copy-on":
        return this.replicator.takeCopy(body.session, body.epoch, body.record)
      case "list":
        return this.#node.sessions()
      case "timeline":
        return this.#node.timeline(body.since)
      case "info":
        return (body.public ? this.#node.publicSession(body.session) : this.#node.session(body.session)) ?? null
      case "open":
        return this.#node.openSessions(body.game)
      default:
        throw new Error(`unknown request ${(body as { t?: string }).t}`)
    }
  }

  #onMessage(from: string, body: Body, via: unknown): void {
    switch (body.t) {
      case "rep":
      case "rep-batch":
      case "rep-ack":
      case "rep-nack":
      case "rep-fenced":
        return this.replicator.onMessage(from, body)
      case "grant-retract":
        return this.handoff.takeover.retracted(from, body)
      case "relay-open": {
        const key = `${from}/${body.conn}`
        const link: PlayerLink = {
          send: (frame) => this.cluster.send(from, { t: "relay-out", conn: body.conn, frame } satisfies Body),
          close: (code, reason) => {
            this.#inbound.delete(key)
            this.cluster.send(from, { t: "relay-close", conn: body.conn, code, reason } satisfies Body)
          },
        }
        this.#inbound.set(key, { link, via })
        this.#node.open(link)
        return this.#node.handle(link, body.msg)
      }
      case "relay-in": {
        const link = this.#inbound.get(`${from}/${body.conn}`)?.link
        if (link) return this.#node.handle(link, body.msg)
        // A relay this node no longer knows (released when a link dropped): the relaying node re-points it.
        this.cluster.send(from, { t: "relay-close", conn: body.conn, code: 4010, reason: "relay unknown here" } satisfies Body)
        return
      }
      case "relay-end": {
        const key = `${from}/${body.conn}`
        const link = this.#inbound.get(key)?.link
        this.#inbound.delete(key)
        if (link) this.#node.close(link)
        return
      }
      case "relay-out":
        this.#outbound.get(body.conn)?.link.send(body.frame)
        return
      case "relay-close": {
        const r = this.#outbound.get(body.conn)
        if (!r) return
        if (body.code === 4010) return void this.#repoint(r, body.reason)
        this.#outbound.delete(body.conn)
        this.#byLink.delete(r.link)
        r.link.close(body.code, body.reason)
        return
      }
    }
  }

  /**
   * The control link to a peer closed (it left, died, or the link was only
   * replaced): relays over it may have lost frames in flight. Its relayed
   * players are released here; players relayed to it are re-pointed, which
   * joins them again, and a join makes the client resend every action not
   * acknowledged (the simulator found an action lost with a reset link,
   * never answered).
   */
  #linkLost(peer: string, lost: unknown): void {
    // Only relays opened on the lost link: one opened meanwhile on its replacement stays.
    for (const [key, { link, via }] of this.#inbound)
      if (via === lost && key.startsWith(`${peer}/`)) {
        this.#inbound.delete(key)
        this.#node.close(link)
      }
    for (const r of [...this.#outbound.values()]) if (r.peer === peer) void this.#repoint(r, `the link to node ${peer} was lost`)
  }

  /** Document id → session id, kept from the registry (announce asks per peer and document). */
  #docToSession = new Map<string, string>()
  #sessionToDoc = new Map<string, string>()
  /** Sessions whose entries changed since the last look. */
  #toLook = new Set<string>()
  /** Look at every session next time (at start, and when members or their status change). */
  #lookAtAll = true
  #shadowsPrunedAt = 0
  #pruneTimer: unknown
  /** Document URLs being fetched to follow. */
  #fetching = new Set<string>()
  #stopped = false

  #replicaSetOfDoc(docId: string): string[] {
    const session = this.#docToSession.get(docId)
    return session ? this.replicaSet(session) : []
  }

  #followTimer: unknown
  /** Registry changes come in bursts (a thousand sessions created): look once per burst. */
  #followSoon(): void {
    if (this.#stopped) return
    this.#followTimer ??= this.#node.clock.setTimeout(() => {
      this.#followTimer = undefined
      this.#followReplicas()
    }, 50)
  }

  /**
   * Keeps a synced copy of every session document this node is a replica
   * (not the owner) of. A node joining a big cluster is a replica of
   * thousands at once: it fetches a bounded number per round, so its event
   * loop keeps answering heartbeats (a node silent for seconds is taken for
   * dead, and its sessions taken over while it runs them).
   */
  #followReplicas(): void {
    let sessions: Set<string> = this.#toLook
    this.#toLook = new Set()
    const all = this.#lookAtAll
    if (all) {
      // Only at start and when members or their status change: a look at every session costs
      // several µs each (~95 ms at 30,000: tests/bench/registry-change.ts).
      this.#lookAtAll = false
      const entries = this.#node.store.entries()
      sessions = new Set([...sessions, ...entries.map(([id]) => id), ...this.#sessionToDoc.keys(), ...this.#following.keys()])
    }
    // Replica sets asked for sessions that are gone (an operator's lookup, a late replication message).
    if (this.#replicaSets.size > 2 * this.#sessionToDoc.size + 100) this.#replicaSets.clear()
    let docsChanged = false
    let started = 0
    for (const session of sessions) {
      const e = this.#node.store.entry(session)
      if (this.#mapDoc(session, e?.doc)) docsChanged = true
      if (!e) this.#replicaSets.delete(session)
      const mine = e !== undefined && this.#isReplica(session, e)
      const held = this.#following.get(session)?.handle
      if (!mine) {
        if (held) this.#unfollow(session)
        continue
      }
      if (held?.url === e.doc || this.#fetching.has(e.doc)) continue
      if (started++ >= FOLLOW_PER_ROUND) this.#toLook.add(session)
      else this.#follow(session, e.doc)
    }
    // What to announce to whom depends on which session a document is (announce asks by document).
    if (docsChanged) this.#node.store.repo.shareConfigChanged()
    if (this.#toLook.size > 0) this.#followSoon()
    if (all || this.#node.clock.now() - this.#shadowsPrunedAt > 2_000) this.#pruneShadows()
    else this.#pruneTimer ??= this.#node.clock.setTimeout(() => this.#pruneShadows(), 2_000)
  }

  /** Whether this node is a replica of the session (and not its owner). */
  #isReplica(session: string, e = this.#node.store.entry(session)): boolean {
    return e !== undefined && e.owner !== this.#node.id && this.replicaSet(session).includes(this.#node.id)
  }

  #unfollow(session: string): void {
    this.#following.get(session)?.off()
    this.#following.delete(session)
  }

  /** Records which document a session is written to; true when that changed. */
  #mapDoc(session: string, url: string | undefined): boolean {
    const doc = url?.replace(/^automerge:/, "")
    const had = this.#sessionToDoc.get(session)
    if (had === doc) return false
    if (had !== undefined) this.#docToSession.delete(had)
    if (doc === undefined) this.#sessionToDoc.delete(session)
    else {
      this.#sessionToDoc.set(session, doc)
      this.#docToSession.set(doc, session)
    }
    return true
  }

  #follow(session: string, url: AutomergeUrl): void {
    this.#fetching.add(url)
    void this.#node.store.repo.find<SessionDoc>(url).then(
      (handle) => {
        this.#fetching.delete(url)
        // While it was fetched the entry may have moved to another document, or the session to this
        // node or out of its replica set: look at it again instead.
        if (this.#node.store.entry(session)?.doc !== url || !this.#isReplica(session)) {
          this.#toLook.add(session)
          return this.#followSoon()
        }
        const onChange = ({ doc }: { doc: SessionDoc }) => {
          const newest = newestCheckpoint(doc)
          if (newest) this.documentLag.add(this.#node.clock.now() - newest.at)
        }
        this.#unfollow(session)
        handle.on("change", onChange)
        this.#following.set(session, { handle, off: () => handle.off("change", onChange) })
      },
      () => {
        this.#fetching.delete(url)
        // automerge-repo keeps an unavailable handle and answers from it until the owner's announce
        // brings the document: try again in a while, not at once.
        this.#node.clock.setTimeout(() => {
          this.#toLook.add(session)
          this.#followSoon()
        }, 1_000)
      },
    )
  }

  /** Every replicated session leaves a shadow here: drop those of sessions that are gone or not ours to hold. */
  #pruneShadows(): void {
    this.#node.clock.clearTimeout(this.#pruneTimer)
    this.#pruneTimer = undefined
    this.#shadowsPrunedAt = this.#node.clock.now()
    // Draining, this node is in no replica set, and its copies are what it hands on before it goes (handOnCopies).
    if (this.cluster.self.status === "draining") return
    // A session not in our registry copy yet (a new one: the stream can beat the registry's sync) keeps
    // its shadow for a minute.
    this.replicator.pruneShadows((session, idleMs) => {
      const e = this.#node.store.entry(session)
      if (!e) return idleMs < 60_000
      if (e.status !== "open") return false
      if (this.replicaSet(session).includes(this.#node.id)) return true
      // An owner that is not up, or silent past its heartbeats, may have died: its takeover needs the
      // newest copy, which may be this one (seed 5 of the simulator: a shadow dropped when a new member
      // moved the replica set, while the owner's power-off was not detected yet, lost two acked actions).
      if (this.cluster.member(e.owner)?.up !== true || this.cluster.silentMs(e.owner) > 2 * this.cluster.heartbeatMs) return true
      // Out of the replica set, with the owner alive: the new replicas get its whole record at once
      // (resync on every membership change) and its document within a checkpoint. Until they surely
      // have, this copy may be the only one of the last acknowledged actions.
      return idleMs < SHADOW_GRACE_MS
    })
  }
}
