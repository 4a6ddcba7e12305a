import { Cluster, type Member } from "./cluster.ts"
import type { Transport } from "./transport.ts"
import type { Discovery } from "./discovery.ts"
import { meshNeighbours } from "./mesh.ts"
import { rank, replicaSet } from "./placement.ts"
import type { ClientMessage, OpenSession } from "../protocol/index.ts"
import type { SessionRecord } from "../game/index.ts"
import { ReplicaFollower } from "./follow.ts"
import { Handoff } from "./handoff.ts"
import type { NodePort } from "./port.ts"
import { Relays } from "./relay.ts"
import { Rebalancer } from "./rebalance.ts"
import { asPublic, BatonError, clientError, type PlayerLink } from "../protocol/index.ts"
import { SampleWindow } from "../metrics/index.ts"
import { Replicator } from "./replication.ts"
import { type Answer, PeerFailure, PeerRequestError } from "./protocol.ts"

/** How often relayed players' owners are checked for silence, and actions that waited for the lease run, ms. */
const WATCH_MS = 100

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
  /**
   * At most one session moved back to where placement ranks it every this
   * many ms, from a node above the cluster's mean once membership has been
   * steady for a while (after a rolling deploy); 0 turns it off. Default 1,000.
   */
  rebalanceMs?: number
}

/**
 * The node's part in a cluster, a façade over the parts in this folder:
 * membership (Cluster), replication of acks (Replicator), moving sessions
 * (Handoff), replicas following their documents (ReplicaFollower) and
 * relaying players (Relays). Here: placement of new sessions and replica
 * sets, the answers to peers' requests, and the cluster-wide views.
 */
export class ClusterRole {
  readonly cluster: Cluster
  readonly handoff: Handoff
  readonly rebalancer: Rebalancer
  readonly replicator: Replicator
  /** How old the changes were when a replica got them (the control-link stream). */
  readonly replicaLag = new SampleWindow(10_000)
  readonly follower: ReplicaFollower
  readonly relays: Relays
  #node: NodePort
  #replicas: number | "all"
  /** The peers this node syncs the registry with (mesh.ts), as of the last membership change. */
  #mesh = new Set<string>()

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
      persistent: node.store.persistent,
      onRefused: (from, r) => node.refused(from, r, "/cluster/control"),
      log: node.log,
      onEvent: (event) => node.emit(event),
      clock: node.clock,
      transport: cfg.transport,
    })
    const registryId = node.store.registryHandle.documentId as string
    node.store.share({
      // The registry goes to the mesh neighbours (everyone, in a small cluster); a session document to its replica set.
      announce: (peer, doc) => (doc === registryId ? this.#registryPeer(peer) : this.follower.replicaSetOfDoc(doc).includes(peer)),
      // Refused outside the mesh too: automerge-repo keeps syncing with a peer that once sent a message about a
      // document as long as it has access, and while a cluster forms every node starts in a complete mesh.
      access: (peer, doc) => this.cluster.member(peer)?.up === true && (doc !== registryId || this.#registryPeer(peer)),
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
    // No copy left anywhere: the registry ends it, every node lets its waiting players go, with the reason.
    this.handoff.onLost = (session) => {
      node.store.markLost(session)
      this.relays?.lost(session)
      this.cluster.sendToAll("lost", { sessions: [session] }, "owns")
    }
    this.handoff.copyOn = (session, target, record, epoch, deadline) => this.#copyOn(session, [target], epoch, record, deadline).then(() => {})
    this.follower = new ReplicaFollower(node, this.cluster, {
      replicaSet: (session) => this.replicaSet(session),
      forget: (session) => this.#replicaSets.delete(session),
      trim: (known) => {
        if (this.#replicaSets.size > 2 * known + 100) this.#replicaSets.clear()
      },
    }, this.replicator)
    this.relays = new Relays(this.cluster, node, (session) => this.#locate(session))
    // Steady: no membership change for two failure timeouts (a roll's steps, a failover, settle first).
    this.rebalancer = new Rebalancer(this.cluster, this.handoff, node, { everyMs: cfg.rebalanceMs ?? 1_000, steadyMs: 2 * (cfg.failureMs ?? 3_000) })
    this.#handleRequests()
    this.#receiveMessages()
    const reshare = () => {
      this.#replicaSets.clear()
      this.#mesh = meshNeighbours(node.id, this.cluster.members().filter((m) => m.up).map((m) => m.id))
      node.store.repo.shareConfigChanged()
      this.follower.lookAtAll()
      // A node from before the registry's buckets reads flat entries only: keep them while one is here.
      node.store.setFlatRegistryReaders(this.cluster.members().some((m) => m.up && !m.caps.includes("registry-buckets")))
      // New replicas get the whole record now, not at the session's next change: until they hold it,
      // the acknowledged actions are only where the old replica set was.
      this.replicator.resync()
    }
    this.cluster.on("node-up", reshare)
    this.cluster.on("node-down", reshare)
    this.cluster.on("status", reshare)
    this.cluster.start()
    this.rebalancer.start()
    // Sessions whose owner is gone or cut off are taken over once a majority agrees: asked again
    // periodically, since a majority lost in a partition comes back when it heals. The first look
    // waits for membership to settle (a whole-cluster restart from disk: owners not met yet).
    const every = Math.max(250, (cfg.failureMs ?? 3_000) / 4)
    const timers = this.cluster.clock
    this.#orphanTimer = timers.setTimeout(() => {
      this.#sweepTimer = timers.setInterval(() => void this.handoff.sweep(), every)
    }, Math.max(1_000, (cfg.failureMs ?? 3_000) / 2))
    this.#relayWatch = timers.setInterval(() => {
      this.relays.watch()
      node.leaseCheck(this.cluster.hasLease())
    }, WATCH_MS)
  }
  #orphanTimer: unknown
  #sweepTimer: unknown
  #relayWatch: unknown

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

  async createRemote(owner: string, game: string, options: unknown, id: string, seed?: string): Promise<Answer<"create">> {
    try {
      return await this.cluster.request(owner, "create", { game, options, id, seed })
    } catch (error) {
      // Only a BatonError the owner marked as one is shown; a timeout or an exception's text is logged here.
      const e = error instanceof PeerRequestError && error.peerError.forClients ? error.peerError : undefined
      throw e ? new BatonError(e.code, e.message, e.status, e.errorId) : clientError(error, this.#node, { session: id, game, owner, where: "relayed create" }, "unavailable", 503)
    }
  }

  /** A player here joins a session that is not here: find its owner and relay. */
  relayJoin(link: PlayerLink, msg: Extract<ClientMessage, { t: "join" }>): Promise<((m: ClientMessage) => void) | undefined> {
    return this.relays.join(link, msg)
  }

  /** Sessions of every member that answers within a second (a cluster-wide GET /sessions). */
  async listAll(): Promise<unknown[]> {
    const peers = this.cluster.members().filter((m) => m.up && m.id !== this.#node.id)
    const lists = await Promise.all(peers.map((p) => this.cluster.request(p.id, "list", {}, 1_000).catch(() => [])))
    return [...this.#node.sessions(), ...lists.flat()]
  }

  /** Every member's timeline, merged by time (the dashboard's feed). */
  async timelineAll(since: number): Promise<unknown[]> {
    const peers = this.cluster.members().filter((m) => m.up && m.id !== this.#node.id)
    const lists = await Promise.all(peers.map((p) => this.cluster.request(p.id, "timeline", { since }, 1_000).catch(() => [])))
    return [...(this.#node.timeline(since) as { time: number }[]), ...lists.flat()].sort((a, b) => a.time - b.time)
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
    const answer = await this.cluster.request(owner, "info", { session, public: pub }, 2_000)
    return pub ? asPublic(answer) : answer
  }

  /**
   * The inspector's view of a session, or its history as a file: from the
   * node running it (this one, or asked), else from this node's copy of its
   * document when it holds one (a replica; also when the owner is a node
   * older than the inspector, which does not know the request).
   */
  async inspectSession(session: string, req: { export?: boolean; tail?: number }): Promise<{ found: unknown; via: "here" | "owner" | "copy"; owner?: string } | undefined> {
    if (this.#node.hasSession(session)) return { found: this.#node.inspect(session, req), via: "here" }
    const owner = await this.#locate(session)
    const answer = owner ? await this.cluster.request(owner, "inspect", { session, ...req }, 5_000).catch(() => null) : null
    if (answer) return { found: answer, via: "owner", owner }
    const copy = this.#node.inspect(session, { ...req, copies: true })
    return copy ? { found: copy, via: "copy" } : undefined
  }

  /** The public listing across the cluster: open sessions of `game` with a seat free, oldest first. */
  async openAll(game: string, max = 100): Promise<unknown[]> {
    const peers = this.cluster.members().filter((m) => m.up && m.id !== this.#node.id)
    const lists = await Promise.all(peers.map((p) => this.cluster.request(p.id, "open", { game }, 1_000).catch(() => [])))
    // Each answer is the public shape already (protocol.ts drops any other field).
    const all: OpenSession[] = [...(this.#node.openSessions(game) as OpenSession[]), ...lists.flat()]
    return all.sort((a, b) => a.createdAt - b.createdAt).slice(0, max)
  }

  /** Every copy of the session is gone (see Relays.lost). */
  isLost(session: string): boolean {
    return this.relays.isLost(session)
  }

  /** Resolves on news of a session (see Relays.news), or after `ms`. */
  news(session: string, ms: number): Promise<void> {
    return this.relays.news(session, ms)
  }

  /** The player's connection here closed. */
  relayEnd(link: PlayerLink): void {
    this.relays.end(link)
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
    const answers = await Promise.all(peers.map((p) => this.cluster.request(p.id, "hosting", { sessions: ids }, 1_000).catch(() => undefined)))
    if (answers.some((a) => a === undefined)) return undefined
    const asked = new Set(ids)
    for (const a of answers) for (const id of a ?? []) if (asked.has(id)) out.add(id)
    return out
  }

  /** Sends a session's record to its replicas other than `except` (placement without this node), and waits for each. */
  async #copyOn(session: string, except: string[], epoch: number, record: SessionRecord, deadline: number): Promise<{ sent: number; handed: number; failed: string[] }> {
    const targets = this.replicaSet(session).filter((id) => id !== this.#node.id && !except.includes(id) && this.cluster.member(id)?.up)
    const failed: string[] = []
    let handed = 0
    await Promise.all(
      targets.map((to) =>
        this.cluster.request(to, "copy-on", { session, epoch, record }, Math.max(100, deadline - this.#node.clock.now())).then(
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
    // Open or parked (an idle owner's document: store/parking.ts).
    const held = entry ? this.#node.store.heldCheckpoint(entry.doc) : undefined
    return {
      session,
      entry: entry ?? null,
      replicaSet: this.replicaSet(session),
      holds: !!held,
      rev: held?.rev ?? null,
      epoch: held?.epoch ?? null,
    }
  }

  stats() {
    return {
      replicas: this.#replicas,
      following: this.follower.following,
      relayedOut: this.relays.outbound,
      relayedIn: this.relays.inbound,
      replicaLagMs: this.replicaLag.summary(),
      documentLagMs: this.follower.documentLag.summary(),
    }
  }

  stop(moved?: Record<string, string>): void {
    this.rebalancer.stop()
    this.replicator.stop()
    this.follower.stop()
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
      this.cluster.request(peer, "where", { session }, 2_000).then((has) => (has ? peer : Promise.reject(new Error("not there")))),
    )
    return Promise.any(asks).catch(() => undefined)
  }

  /** What this node answers its peers (each body already checked against cluster/protocol.ts). */
  /** Whether the registry syncs with `peer`: a mesh neighbour, or a node from before the mesh (it syncs with everyone). */
  #registryPeer(peer: string): boolean {
    return this.#mesh.has(peer) || this.cluster.member(peer)?.caps.includes("registry-mesh") === false
  }

  #handleRequests(): void {
    const c = this.cluster
    c.handle("create", async (_from, body) => {
      try {
        const created = this.#node.createLocal(body.game, body.options, body.id, body.seed)
        await this.#node.createdDurably(body.id)
        return created
      } catch (error) {
        // A refusal meant for the client goes as it is; anything else is logged here, under an error id.
        const e = clientError(error, this.#node, { session: body.id, game: body.game, where: "create for a peer" })
        throw new PeerFailure({ code: e.code, message: e.message, status: e.status, errorId: e.errorId, forClients: true })
      }
    })
    c.handle("handoff", (_from, body) => {
      try {
        return this.handoff.accept(body)
      } catch (error) {
        if (error instanceof PeerFailure) throw error
        throw new PeerFailure({ code: "refused", message: (error as Error).message })
      }
    })
    c.handle("claimed", (_from, body) => this.handoff.claimed(body))
    c.handle("grant", (from, body) => this.handoff.takeover.grant(from, body))
    c.handle("copy", (_from, body) => this.handoff.takeover.copy(body))
    c.handle("hosting", (_from, body) => this.handoff.hosting(body))
    c.handle("where", (_from, body) => this.#node.hasSession(body.session))
    c.handle("copy-on", (_from, body) => this.replicator.takeCopy(body.session, body.epoch, body.record))
    c.handle("list", () => this.#node.sessions())
    c.handle("timeline", (_from, body) => this.#node.timeline(body.since))
    c.handle("info", (_from, body) => (body.public ? this.#node.publicSession(body.session) : this.#node.session(body.session)) ?? null)
    c.handle("open", (_from, body) => this.#node.openSessions(body.game))
    c.handle("inspect", (_from, body) => this.#node.inspect(body.session, body) ?? null)
  }

  /** One-way messages: replication and vote retractions (Relays takes the relayed players' frames). */
  #receiveMessages(): void {
    const c = this.cluster
    const r = this.replicator
    c.receive("rep", (from, body) => r.onRep(from, body))
    c.receive("rep-batch", (from, body) => r.onBatch(from, body))
    c.receive("rep-ack", (from, body) => r.onAck(from, body))
    c.receive("rep-nack", (from, body) => r.onNack(from, body))
    c.receive("rep-fenced", (_from, body) => r.onFenced(body.session, body.epoch))
    c.receive("grant-retract", (from, body) => this.handoff.takeover.retracted(from, body))
  }
}
