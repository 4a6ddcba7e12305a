import { type AnyGame, GameLoadError, type PlayerId, type ReplayFile, Session, type Spawn } from "../game/index.ts"
import type { ClientMessage, OpenSession, SessionSummary } from "../protocol/index.ts"
import { CloseCode } from "../protocol/index.ts"
import { type DataDirEvent, Store } from "../store/index.ts"
import { BatonError, clientError } from "../protocol/index.ts"
import { type Clock, type ClusterConfig, ClusterRole, type NodePort, systemClock } from "../cluster/index.ts"
import { Durability, type DurabilityReport } from "./durability.ts"
import { handlerFailures } from "./failures.ts"
import { HostedSession, type PlayerLink } from "./hosted.ts"
import { PlayerConnections, send } from "./connections.ts"
import { exportHistory, type InspectView, inspectView, LEDGER_TAIL } from "./inspect.ts"
import { LISTING_MAX, publicView, summarize } from "./summaries.ts"
import { Observability, type TimelineEvent } from "./observability.ts"
import { type NodeEventBody, type NodeEventListener, NodeEvents } from "./events.ts"
import { errorText } from "../protocol/index.ts"
import { LinkRefusals } from "./link-refusals.ts"
import type { StorageAdapterInterface } from "@automerge/automerge-repo"
import { createLogger, type Logger } from "../log/index.ts"
import type { Registry } from "../metrics/index.ts"

/** How a node runs: its games, where it keeps sessions, how long they live, and whether it joins a cluster. */
export interface NodeConfig {
  /** The game modules this node runs (defineGame), each under its own name. */
  games: readonly AnyGame[]
  /** Keeps sessions on disk (automerge-repo-storage-nodefs) for a restart; in memory when absent. */
  dataDir?: string
  /** Sync every file written to the data dir (survives power loss too, not only a crash of the process). Default false. */
  fsync?: boolean
  /**
   * Without a data dir: an automerge-repo storage adapter the node's documents
   * go through, which does not outlive the process (the simulator's disk, with
   * its latency). Sessions still do not survive a restart.
   */
  volatileStorage?: StorageAdapterInterface
  /** An open session with no player attached and no activity for this long is ended. Default 15 min. */
  idleMs?: number
  /**
   * An open session in which no player holds a seat, with no player attached
   * and no activity for this long, is collected at once (creating sessions
   * nobody joins must not fill the node). Default 2 min.
   */
  unjoinedMs?: number
  /** An ended session stays readable this long before it is collected. Default 60 s. */
  lingerMs?: number
  /** How often ended and idle sessions are looked for. Default 5 s. */
  sweepMs?: number
  /** Refused cluster links from one source are logged once, then summed up per this window, ms. Default 10 s. */
  linkRefusalWindowMs?: number
  /** Sessions this node will run at most. Default 10,000. */
  maxSessions?: number
  /**
   * Least time between two automerge checkpoints of one session, ms. Default
   * 500 on a node without a cluster, 1000 on a cluster member: there the
   * replicas get every change within ~20 ms over the control link, so the
   * checkpoint bounds no loss on its own, and each one costs an automerge
   * sync round with every replica (CLUSTER_CHECKPOINT_MS). Checkpoints are
   * written in rounds every half interval, at most 8 ms of each round.
   */
  checkpointMs?: number
  /** Where log lines go (default: JSON lines on stdout). */
  log?: Logger
  /**
   * Gets every event of the node from its very start (those of opening the
   * data dir included, before start() returns); `node.events.on` for later.
   */
  onEvent?: NodeEventListener
  /** Time and timers (the simulator's, in tests). Default the runtime's. */
  clock?: Clock
  /**
   * How long a stopping node keeps its links open after its final
   * checkpoints, ms: automerge-repo sends a document's changes at most every
   * 100 ms, and this lets the last ones reach the replicas before the links
   * close. Default 250.
   */
  finalSyncMs?: number
  /** Join a cluster: replication, placement, relaying. Absent: a lone node. */
  cluster?: ClusterConfig
  /** The cluster config will come later (joinCluster, once listening). */
  clustered?: boolean
}


/** A lone node's checkpoint interval, ms: with a data dir, what a crash can cost a "local" game. */
const LONE_CHECKPOINT_MS = 500
/**
 * A cluster member's, ms. Its checkpoints cost far more than a lone node's: a
 * sync round with each replica (automerge-repo's sync state, a wasm sync
 * message each way, the document's change events). Rounds come every half
 * interval under a budget per round, so this also halves what a busy member
 * spends on them: in a 3-node cluster at 50×4 the budget binds, and it wrote
 * ~4 checkpoints a second per node instead of ~9, at ~26 µs of cluster CPU
 * per action instead of ~31 (docs/benchmarks.md, 2026-12-03).
 */
const CLUSTER_CHECKPOINT_MS = 1000
/** How long a stopping member waits for its peers to answer its goodbye (see Cluster.farewell), ms. */
const FAREWELL_MS = 2_000

/** Players attached from which a session's deltas are batched per window rather than per turn. */
const CROWD = 16
const CROWD_FLUSH_MS = 5

export type NodeStatus = "starting" | "ready" | "draining" | "stopping" | "stopped"

/** How long a new "replicated" session waits for a replica's confirmation before its creator hears it is unconfirmed, ms. */
const CREATE_CONFIRM_MS = 5_000
/**
 * One Bun process of the runtime: a façade over the store (automerge-repo)
 * and the sessions it runs. Knows no sockets: the server hands it
 * PlayerLinks and already-validated protocol messages. `startNode`
 * (batonjs/server) makes and serves one; use this class directly to embed a
 * node in a server of your own.
 */
export class BatonNode {
  /** This process's node id: new at every start (a restarted node is a new member). */
  readonly id = `n-${crypto.randomUUID().slice(0, 8)}`
  /** The games this node runs, by name. */
  readonly games: ReadonlyMap<string, AnyGame>
  /** Where this node writes its log lines (for people; programs read `events`). */
  readonly log: Logger
  /** What happens on this node, as typed events (the timeline, the dev cluster and tests read these, not the log). */
  readonly events: NodeEvents
  /** Refused cluster links: counted, and shown on the timeline aggregated per source. */
  readonly linkRefusals: LinkRefusals
  #status: NodeStatus = "starting"
  #store!: Store
  #sessions = new Map<string, HostedSession>()
  readonly #players: PlayerConnections
  #dirty = new Set<HostedSession>()
  #flushQueued = false
  #sweep: unknown
  #role: ClusterRole | undefined
  readonly #seen = new Observability()
  #cfg: Required<Omit<NodeConfig, "dataDir" | "fsync" | "volatileStorage" | "log" | "onEvent" | "cluster" | "clustered">> & { dataDir?: string }
  #durability: Durability

  private constructor(config: NodeConfig) {
    const games = new Map<string, AnyGame>()
    for (const g of config.games) {
      if (g?.kind !== "baton.game") throw new Error("games must be made with defineGame()")
      if (games.has(g.name)) throw new Error(`two games are named "${g.name}"`)
      games.set(g.name, g)
    }
    this.games = games
    this.log = config.log ?? createLogger({ node: this.id })
    const clock = config.clock ?? systemClock
    this.events = new NodeEvents(this.id, () => clock.now(), (error, event) => this.log.error("event listener failed", { event: event.t, error }))
    this.events.on((event) => this.#seen.record(event))
    if (config.onEvent) this.events.on(config.onEvent)
    this.linkRefusals = new LinkRefusals(this.log, (event) => this.emit(event), this.#seen.metrics, { setTimer: (fn, ms) => this.clock.setTimeout(fn, ms), windowMs: config.linkRefusalWindowMs })
    const node = this
    this.#durability = new Durability({
      get store() {
        return node.#store
      },
      games,
      log: this.log,
      clustered: () => !!this.#role || !!config.cluster || !!config.clustered,
      liveReplicas: (id) => this.#role?.replicator.liveReplicas(id).length ?? 0,
      aloneByDesign: () => this.#role?.aloneByDesign() ?? true,
      leaving: () => this.#status !== "starting" && this.#status !== "ready",
      sessions: () => this.#sessions.values(),
    })
    this.#players = new PlayerConnections({
      get clock() {
        return node.clock
      },
      get log() {
        return node.log
      },
      get metrics() {
        return node.metrics
      },
      get role() {
        return node.#role
      },
      emit: (event) => node.emit(event),
      hosted: (id) => node.#sessions.get(id),
      registered: (id) => node.#store.entry(id)?.status,
      waiting: (h) => h.frozen || node.#paused(h),
      markDirty: (h) => node.#markDirty(h),
      applied: (seconds, code) => node.#seen.action(seconds, code),
    })
    this.#cfg = {
      games: config.games,
      dataDir: config.dataDir,
      idleMs: config.idleMs ?? 15 * 60_000,
      unjoinedMs: config.unjoinedMs ?? 2 * 60_000,
      lingerMs: config.lingerMs ?? 60_000,
      sweepMs: config.sweepMs ?? 5_000,
      linkRefusalWindowMs: config.linkRefusalWindowMs ?? 10_000,
      maxSessions: config.maxSessions ?? 10_000,
      checkpointMs: config.checkpointMs ?? (config.cluster || config.clustered ? CLUSTER_CHECKPOINT_MS : LONE_CHECKPOINT_MS),
      finalSyncMs: config.finalSyncMs ?? 250,
      clock,
    }
  }

  /** Opens the store, resumes the sessions it holds (after a restart with a data dir), and turns ready. */
  static async start(config: NodeConfig): Promise<BatonNode> {
    const node = new BatonNode(config)
    node.#store = await Store.open({
      dataDir: config.dataDir,
      fsync: config.fsync,
      volatileStorage: config.volatileStorage,
      peerId: node.id,
      checkpointMs: node.#cfg.checkpointMs,
      quiet: (session) => node.#sessions.get(session)?.links.size === 0,
      clock: () => node.#cfg.clock.now(),
      onError: (session, error) => {
        node.log.error("checkpoint failed", { session, error })
        node.emit({ t: "checkpoint-failed", session, error: errorText(error) })
      },
      onDamage: (event) => node.#reportDamage(event),
      onCommit: (sessions, ms) => node.#seen.diskCommit(sessions, ms),
    })
    // A clustered node's stored sessions belong to the cluster: handoff and failover decide who resumes them.
    if (!config.cluster && !config.clustered) await node.#resumeStored()
    node.#sweep = node.clock.setInterval(() => node.collect(), node.#cfg.sweepMs)
    node.#seen.gauges({
      sessions: () => node.#sessions.size,
      players: () => node.#players.size,
      documents: () => Object.keys(node.#store.repo.handles).length,
      parkedDocuments: () => node.#store.documents().parked,
      documentSizes: () => [...node.#sessions.keys()].slice(0, 50).map((id) => node.#store.docSize(id)),
      replicaLag: () => node.#role?.replicaLag.summary(),
      documentLag: () => node.#role?.follower.documentLag.summary(),
      members: () => node.#role?.cluster.members() ?? [],
      notDurable: () => node.durability().notDurable,
    })
    node.#durability.announce()
    node.#status = "ready"
    if (config.cluster) node.joinCluster(config.cluster)
    return node
  }

  /** Starts the cluster role (once the node's URL is known: after it listens). */
  joinCluster(config: ClusterConfig): void {
    if (this.#role) throw new Error("this node is already in a cluster")
    this.#role = new ClusterRole(this.#port(), config)
    this.#role.cluster.setStatus("ready")
  }

  /** The cluster part of this node, when it is in one. */
  get role(): ClusterRole | undefined {
    return this.#role
  }

  /** Whether the session runs on this node. */
  hasSession(id: string): boolean {
    return this.#sessions.has(id)
  }

  /** starting → ready → draining → stopping → stopped. */
  get status(): NodeStatus {
    return this.#status
  }
  /** The automerge-repo store holding this node's sessions and the cluster's registry. */
  get store(): Store {
    return this.#store
  }
  /** Sessions running on this node. */
  get sessionCount(): number {
    return this.#sessions.size
  }
  /** Player connections open on this node (relayed ones included). */
  get playerCount(): number {
    return this.#players.size
  }

  /**
   * Creates a session on the node placement names for it (this one when alone).
   * Its random source gets a secret random seed unless one is given (tests,
   * replays): a seed players could guess would reveal hidden information.
   */
  async createSession(gameName: string, options?: unknown, seed?: string): Promise<SessionSummary> {
    const id = newSessionId()
    const owner = this.#role?.ownerFor(id)
    if (owner && owner.id !== this.id) return (await this.#role?.createRemote(owner.id, gameName, options, id, seed)) as SessionSummary
    const created = this.createLocal(gameName, options, id, seed)
    await this.createdDurably(id)
    return created
  }

  /**
   * Resolves once a new session is held where its game's durability asks
   * (under "replicated": a replica confirmed it), so that a player told it
   * exists can count on it as on any acknowledged action. Past
   * CREATE_CONFIRM_MS it rejects (503): the session stays, unconfirmed.
   */
  async createdDurably(id: string): Promise<void> {
    const h = this.#sessions.get(id)
    if (!h) return
    let timer: unknown
    const late = new Promise<never>((_, reject) => {
      timer = this.clock.setTimeout(() => reject(new BatonError("unavailable", `session ${id} was created, but no replica confirmed it within ${CREATE_CONFIRM_MS / 1000} s (see the node's notices): it may not survive this node`, 503)), CREATE_CONFIRM_MS)
    })
    try {
      await Promise.race([h.acknowledgeable(h.session.record.rev), late])
    } finally {
      this.clock.clearTimeout(timer)
    }
  }

  /** Creates a session here, whatever placement says. */
  createLocal(gameName: string, options: unknown, id: string, seed?: string): SessionSummary {
    if (this.#status !== "ready") throw new BatonError("unavailable", `node ${this.id} is ${this.#status}`, 503)
    const game = this.games.get(gameName)
    if (!game) throw new BatonError("unknown_game", `no game named "${gameName}" (games: ${[...this.games.keys()].join(", ")})`, 404)
    if (this.#sessions.size >= this.#cfg.maxSessions)
      throw new BatonError("unavailable", `node ${this.id} runs its maximum of ${this.#cfg.maxSessions} sessions`, 503)
    let session: Session
    try {
      session = Session.create(game, { id, now: this.#now(), options, seed: seed ?? randomSeed() })
    } catch (error) {
      // Invalid options are about the client's own input (valibot's words): worth telling. Anything
      // else came from game code or a broken schema: the client gets a code and an error id.
      if (error instanceof GameLoadError && error.code === "invalid_options") throw new BatonError(error.code, error.message, 400)
      throw clientError(error, this, { session: id, game: gameName, where: "create" }, error instanceof GameLoadError ? error.code : "game_error")
    }
    const hosted = new HostedSession(session, this.clock)
    hosted.holdAcks = this.#durability.holdsAcks(game)
    this.#sessions.set(session.id, hosted)
    this.#store.create(session.record, this.id)
    hosted.takeCheckpoint()
    this.#wake(hosted)
    // Sent to its replicas now, not at its first action: createdDurably waits for that.
    if (hosted.holdAcks) this.#markDirty(hosted)
    this.#role?.cluster.setLoad(this.#sessions.size)
    this.log.info("session created", { session: session.id, game: game.name })
    this.emit({ t: "session-created", session: session.id, game: game.name })
    return summarize(hosted)
  }

  /** Every session running on this node, as operators see it. */
  sessions(): SessionSummary[] {
    return [...this.#sessions.values()].map((h) => summarize(h))
  }

  /** This node's open sessions of `game` with a seat free, oldest first, as the game publishes them. */
  openSessions(game: string): OpenSession[] {
    const out: HostedSession[] = []
    for (const h of this.#sessions.values()) {
      const r = h.session.record
      if (r.game === game && r.status === "open" && r.players.length < h.session.game.players.max) out.push(h)
    }
    return out
      .sort((a, b) => a.session.record.createdAt - b.session.record.createdAt)
      .slice(0, LISTING_MAX)
      .map((h) => publicView(h, this.log))
  }

  /** One session as the public listing shows it. */
  publicSession(id: string): OpenSession | undefined {
    const h = this.#sessions.get(id)
    return h ? publicView(h, this.log) : undefined
  }

  /** One session running here, as operators see it. */
  session(id: string): SessionSummary | undefined {
    const h = this.#sessions.get(id)
    return h ? summarize(h) : undefined
  }

  /** The session running here, with its players and pending acks (tools and tests read its record). */
  hosted(id: string): HostedSession | undefined {
    return this.#sessions.get(id)
  }

  /**
   * The dashboard's inspector (operators): one session's live record, each
   * player's view, timers, the latest steps and the history of its document;
   * or (`export`) that history as a file `Session.replay` reads. From the
   * session running here; else, with `copies`, from this node's copy of its
   * document (a replica: as of its newest checkpoint).
   */
  inspect(id: string, req: { export?: boolean; tail?: number; copies?: boolean } = {}): InspectView | ReplayFile | undefined {
    const h = this.#sessions.get(id)
    if (!h && !req.copies) return undefined
    const game = h ? h.session.game : this.games.get(this.#store.entry(id)?.game ?? "")
    const history = this.#store.history(id)
    if (!game || (!h && !history)) return undefined
    const live = h && {
      record: h.session.record,
      steps: [...this.#store.pendingSteps(id), ...h.pendingSteps],
      epoch: h.epoch,
      holdAcks: h.holdAcks,
      acknowledgedRev: h.acknowledgedRev,
      isConnected: (player: PlayerId) => h.isConnected(player),
    }
    const read = { node: this.id, now: this.#now(), game, history, live }
    if (req.export) return exportHistory(read)
    return inspectView(read, req.tail ?? LEDGER_TAIL, (player, error) => {
      const { errorId } = handlerFailures(this)("view", error, { session: id, player })
      return `view() threw (error id ${errorId}, logged on the node)`
    })
  }

  #epochOf(id: string): number | undefined {
    return this.#sessions.get(id)?.epoch
  }

  /** The sessions running here and their epochs (fencing compares them with the registry). */
  #hostedEpochs(): Map<string, number> {
    return new Map([...this.#sessions].map(([id, h]) => [id, h.epoch]))
  }

  /** Stops applying actions to a session (they queue) and returns its final record. */
  #freeze(id: string): Session["record"] | undefined {
    const h = this.#sessions.get(id)
    if (!h) return undefined
    h.frozen = true
    h.stop()
    h.flush()
    return h.session.record
  }

  /**
   * A session whose node holds no majority's lease applies nothing: the
   * other side may be taking it over, and what it applied here would be
   * shown to players (and, under "local", acknowledged) and then lost.
   * Actions wait, and run once the lease is back (resumeWaiting) or go to
   * the new owner when fenced. So under "local" a partition costs at most
   * what the cut-off owner acknowledged within the lease (BATON_LEASE_MS),
   * not the whole partition.
   */
  #paused(h: HostedSession): boolean {
    return this.#role !== undefined && (this.#pausedSince.has(h.id) || !this.#role.cluster.hasLease())
  }

  /**
   * Whether this node applies actions of the session now: it runs it, is
   * not handing it over, holds a majority's lease and is not waiting to
   * confirm it still owns it. Two nodes never may at once (the simulator
   * checks it after every step).
   */
  acting(id: string): boolean {
    const h = this.#sessions.get(id)
    return h !== undefined && !h.frozen && !this.#paused(h)
  }

  /**
   * Called by the cluster role every 100 ms: with the lease, runs the
   * actions that waited for it; without, tells the players of sessions
   * whose actions wait (within ~0.5 s of the first one).
   */
  #leaseCheck(lease: boolean): void {
    const now = this.#now()
    if (!lease) {
      for (const h of this.#sessions.values()) {
        const since = this.#pausedSince.get(h.id)
        if (since === undefined) this.#pausedSince.set(h.id, now)
        else if (h.queued.length > 0 && now - since >= 250) h.notice("no_quorum", "the node running this session cannot reach a majority of the cluster (a network partition?): actions wait, none is lost")
      }
      return
    }
    if (this.#pausedSince.size > 0) void this.#confirmPaused()
    for (const h of this.#sessions.values()) {
      if (h.frozen || h.queued.length === 0 || this.#pausedSince.has(h.id)) continue
      for (const { link, msg } of h.queued.splice(0)) this.handle(link, msg)
      this.#markDirty(h)
    }
  }
  /** Sessions that were here while the lease had lapsed, and since when: they wait for confirmPaused. */
  #pausedSince = new Map<string, number>()
  #confirming = false

  /**
   * Back in touch with a majority, a node does not simply go on: while it
   * was cut off the majority may have voted its sessions to another node,
   * and under "local" what it acknowledged now would be lost when it learns
   * so. It asks every member which of them it still runs alone.
   */
  async #confirmPaused(): Promise<void> {
    if (this.#confirming || !this.#role) return
    this.#confirming = true
    try {
      const ids = [...this.#pausedSince.keys()].filter((id) => this.#sessions.has(id))
      for (const id of this.#pausedSince.keys()) if (!this.#sessions.has(id)) this.#pausedSince.delete(id)
      const elsewhere = await this.#role.runElsewhere(ids)
      if (!elsewhere) return // some member did not answer: ask again next round
      for (const id of ids) {
        const h = this.#sessions.get(id)
        this.#pausedSince.delete(id)
        if (!h) continue
        if (elsewhere.has(id)) {
          this.#release(id, "fenced: another node took it over while this one could not reach a majority")
          continue
        }
        h.notice("resolved", "actions are answered again")
        for (const { link, msg } of h.queued.splice(0)) this.handle(link, msg)
        this.#markDirty(h)
      }
    } finally {
      this.#confirming = false
    }
  }

  /** A handoff that found no taker: the session runs on here, queued actions in order. */
  #thaw(id: string): void {
    const h = this.#sessions.get(id)
    if (!h?.frozen) return
    h.frozen = false
    for (const { link, msg } of h.queued.splice(0)) this.handle(link, msg)
    this.#markDirty(h)
  }

  /**
   * Stops running a session here because it runs elsewhere now. Players
   * connected here are told to reconnect (4010; the SDK resumes them and
   * resends what was not acknowledged); relayed players are re-pointed by
   * the node they are connected to.
   */
  #release(id: string, reason: string, to?: { id: string; url: string }): void {
    const h = this.#sessions.get(id)
    if (!h) return
    h.stop()
    for (const link of this.#players.sendAway(h)) {
      h.detach(link)
      send(link, { t: "reconnect", reason, urls: to && [to.url] })
      link.close(CloseCode.reconnect, reason, to?.id)
    }
    this.#sessions.delete(id)
    this.#dirty.delete(h)
    this.#store.forget(id)
    this.#role?.replicator.forget(id)
    this.#role?.cluster.setLoad(this.#sessions.size)
    this.log.info("session released", { session: id, reason })
    this.emit({ t: "session-released", session: id, reason })
  }

  /**
   * Runs a session that moved here (handoff or failover): migrates and
   * validates its state under this node's game module (a GameLoadError says
   * why it cannot), takes the new epoch, and writes on in the session's
   * document (a handoff's bytes merged into this node's copy) or, after a
   * failover, in a fresh document; the registry names it.
   */
  #adopt(record: Session["record"], epoch: number, via: string, document?: { bytes: Uint8Array; url?: string }): SessionSummary {
    const game = this.games.get(record.game)
    if (!game) throw new GameLoadError("game_error", `node ${this.id} has no game "${record.game}"`)
    const existing = this.#sessions.get(record.id)
    if (existing && existing.epoch >= epoch) throw new Error(`session ${record.id} already runs here at epoch ${existing.epoch}`)
    const session = Session.resume(game, record)
    if (existing) this.#release(record.id, "superseded")
    const hosted = new HostedSession(session, this.clock)
    hosted.epoch = epoch
    hosted.holdAcks = this.#durability.holdsAcks(game)
    this.#role?.replicator.dropShadow(record.id)
    this.#sessions.set(record.id, hosted)
    // A handoff continues the session's document (its replicas keep following it); otherwise a fresh one.
    if (!document || !this.#store.continueFrom(session.record, this.id, epoch, document.bytes, document.url)) this.#store.create(session.record, this.id, epoch)
    hosted.takeCheckpoint()
    this.#wake(hosted)
    this.#role?.cluster.setLoad(this.#sessions.size)
    this.log.info("session adopted", { session: record.id, game: record.game, epoch, via, fromVersion: record.version, toVersion: game.version })
    this.emit({ t: "session-adopted", session: record.id, game: record.game, epoch, via, fromVersion: record.version, toVersion: game.version })
    return summarize(hosted)
  }

  /** The notable events this node saw, oldest first (the last 500). */
  timeline(since = 0): TimelineEvent[] {
    return this.#seen.timeline(since)
  }

  /** GET /metrics. */
  get metrics(): Registry {
    return this.#seen.metrics
  }

  #recordMove(kind: "handoff" | "failover", ms: number): void {
    this.#seen.move(kind, ms)
  }

  /** Readiness fails and placement skips this node from now on. */
  #setDraining(): void {
    if (this.#status !== "ready") return
    this.#status = "draining"
    this.#role?.cluster.setStatus("draining")
    this.log.info("draining", { sessions: this.#sessions.size })
    this.emit({ t: "draining", sessions: this.#sessions.size })
  }

  /** The document bytes of a frozen session, with its final state written. */
  #finalDocument(id: string): Uint8Array {
    const h = this.#sessions.get(id)
    if (!h) throw new Error(`session ${id} does not run here`)
    return this.#store.saveNow(h.session.record, h.takeSteps())
  }


  /** A player connection opened. */
  open(link: PlayerLink): void {
    this.#players.open(link)
  }

  /** A player connection closed: the seat stays (the player may come back). */
  close(link: PlayerLink): void {
    this.#players.close(link)
  }

  /** One validated protocol message from a player, here or relayed from a peer (see PlayerConnections.handle). */
  handle(link: PlayerLink, msg: ClientMessage): void {
    this.#players.handle(link, msg)
  }

  /** A session with held acks and no live replica (see durability.ts). */
  #secureLocally(h: HostedSession): void {
    this.#durability.secureLocally(h)
  }

  /** Whether an acknowledged action of every session survives this process dying. */
  durability(): DurabilityReport {
    return this.#durability.report()
  }

  /** Ends idle sessions, drops unjoined ones, and forgets ended ones after their linger time. */
  collect(): void {
    this.#durability.check()
    const now = this.#now()
    for (const h of this.#sessions.values()) {
      const r = h.session.record
      if (r.status === "ended") {
        if ((r.endedAt ?? now) + this.#cfg.lingerMs <= now) this.#drop(h, "session ended")
      } else if (h.links.size === 0 && !h.frozen && !played(r) && r.activeAt + this.#cfg.unjoinedMs <= now) {
        // Nobody connected and nobody ever acted: a join and a disconnect must not buy a session the idle time.
        this.#drop(h, r.players.length === 0 ? "nobody joined" : "nobody played")
      } else if (h.links.size === 0 && r.activeAt + this.#cfg.idleMs <= now) {
        h.end({ reason: "idle" }, now)
        this.log.info("session idle, ended", { session: h.id })
        this.emit({ t: "session-idle-ended", session: h.id })
        this.#markDirty(h)
      }
    }
  }

  /**
   * Stops the node: every session's final state is written (and flushed to
   * disk when there is a data dir), then players are told to reconnect.
   */
  async stop(reason = "node stopping", graceMs = 25_000): Promise<{ sessions: number; ms: number; drain?: import("../cluster/index.ts").DrainReport }> {
    if (this.#status === "stopping" || this.#status === "stopped") return { sessions: 0, ms: 0 }
    const started = this.clock.monotonic()
    let drain: import("../cluster/index.ts").DrainReport | undefined
    const deadline = this.clock.now() + graceMs
    if (this.#role) {
      drain = await this.#role.handoff.drain(graceMs)
      const drained = { sessions: drain.sessions, moved: drain.moved, failed: drain.failed.length, ms: drain.ms, pauseP50: drain.pauseP50, pauseP99: drain.pauseP99 }
      this.log.info("drained", drained)
      this.emit({ t: "drained", ...drained })
      const copies = await this.#role.handOnCopies(deadline)
      if (copies.sessions) this.log.info("replica copies handed on", { copies: copies.sessions, confirmed: copies.handed, failed: copies.failed.slice(0, 5) })
    }
    this.#status = "stopping"
    this.clock.clearInterval(this.#sweep)
    // What was not handed over is written out first: to disk, and to the replicas that will take it over.
    // Frozen first: an action that arrived after the final checkpoint would be acknowledged and then lost
    // (it queues unacknowledged instead, and the client resends it wherever the session resumes).
    for (const h of this.#sessions.values()) {
      h.frozen = true
      h.stop()
      h.flush()
      const rec = h.takeCheckpoint()
      if (rec) this.#store.checkpoint(rec, h.takeSteps())
    }
    await this.#store.flush()
    if (this.#role && this.#sessions.size > 0) await this.clock.sleep(this.#cfg.finalSyncMs)
    // Players go first: once the peers have this node's goodbye they drop its links, and a player relayed
    // through it would wait, unanswered, for the rest of the goodbye (the simulator, seed 82026).
    const urls = this.#role?.cluster.ready().filter((m) => m.id !== this.id).map((m) => m.url)
    this.#players.closeAll(reason, urls)
    const moved = drain ? Object.fromEntries(drain.moves.filter((m) => m.to).map((m) => [m.session, m.to as string])) : undefined
    // Within the grace: a process killed while it waits would say no goodbye at all.
    await this.#role?.cluster.farewell(moved, Math.min(FAREWELL_MS, Math.max(0, deadline - this.clock.now())))
    this.#role?.stop(moved)
    await this.#store.close()
    const unreadable = this.#store.unreadable()
    if (unreadable.length) this.log.error("stopped without the sessions whose documents could not be read (left on disk as they are)", { sessions: unreadable })
    const count = this.#sessions.size
    this.#sessions.clear()
    this.#status = "stopped"
    const ms = this.clock.monotonic() - started
    this.emit({ t: "stopped", sessions: count, ms: Math.round(ms), unreadable })
    return { sessions: count, ms, drain }
  }


  #markDirty(h: HostedSession): void {
    // A crowded session (one change fans out to many players) is flushed on a short interval
    // instead of every turn: a frame per player per window rather than per action.
    if (h.links.size >= CROWD) {
      if (this.#crowdDirty.size === 0) this.clock.setTimeout(() => this.#flushCrowd(), CROWD_FLUSH_MS)
      this.#crowdDirty.add(h)
      return
    }
    this.#dirty.add(h)
    if (this.#flushQueued) return
    this.#flushQueued = true
    this.clock.soon(() => this.#flush())
  }

  #crowdDirty = new Set<HostedSession>()

  #flushCrowd(): void {
    for (const h of this.#crowdDirty) this.#dirty.add(h)
    this.#crowdDirty.clear()
    this.#flush()
  }

  /** Once per event-loop turn: deltas out, checkpoints noted, timers re-armed. */
  #flush(): void {
    this.#flushQueued = false
    const dirty = [...this.#dirty]
    this.#dirty.clear()
    for (const h of dirty) {
      if (!this.#sessions.has(h.id)) continue
      try {
        this.#flushOne(h)
      } catch (error) {
        // Runs after the turn (clock.soon): a throw here would end the process, and skip every session after this one.
        handlerFailures(this)("flush", error)
      }
    }
  }

  #flushOne(h: HostedSession): void {
    // Sessions a step spawned exist before any frame names them to a player.
    for (const s of h.session.takeSpawns()) this.#spawn(s, h.id)
    h.flush()
    for (const { player, error } of h.viewFailures.splice(0)) {
      const { errorId } = handlerFailures(this)("view", error)
      for (const [link, a] of h.links)
        if (a.player === player) {
          send(link, { t: "error", code: "internal", message: "internal error (logged on the node)", errorId })
          link.close(CloseCode.internalError, `internal error ${errorId}`)
        }
    }
    if (h.holdAcks) {
      // In a cluster, the cluster decides what holds acks without a replica (usually: nothing does).
      if (!this.#role) this.#secureLocally(h)
      else if (!this.#role.replicator.replicate(h)) this.#role.replicator.onNoReplica(h)
    } else if (this.#role && h.changedSinceStream()) this.#role.replicator.stream(h)
    for (const f of h.session.takeFaults()) {
      this.log.error("game code failed", { session: h.id, where: f.where, error: f.error })
      this.emit({ t: "game-code-failed", session: h.id, where: f.where, error: errorText(f.error) })
    }
    const rec = h.takeCheckpoint()
    if (rec) this.#store.checkpoint(rec, h.takeSteps())
    this.#wake(h)
  }

  #spawn(s: Spawn, parent: string): void {
    // A replayed step (a session taken over from an older copy) may spawn again: once is enough.
    if (this.#sessions.has(s.id) || this.#store.entry(s.id)) return
    try {
      if (this.#status === "ready") this.createLocal(s.game, s.options, s.id)
      else void this.#role?.createRemote(this.#role.ownerFor(s.id).id, s.game, s.options, s.id)
      this.log.info("session spawned", { session: s.id, game: s.game, by: parent })
      this.emit({ t: "session-spawned", session: s.id, game: s.game, by: parent })
    } catch (error) {
      this.log.error("spawn failed", { session: s.id, game: s.game, by: parent, error })
      this.emit({ t: "spawn-failed", session: s.id, game: s.game, by: parent, error: errorText(error) })
    }
  }

  #wake(h: HostedSession): void {
    if (this.#status === "stopping") return
    h.schedule(this.#now(), () => {
      h.advance(this.#now())
      this.#markDirty(h)
    })
  }

  #drop(h: HostedSession, reason: string): void {
    h.stop()
    for (const link of this.#players.sendAway(h)) {
      link.close(CloseCode.sessionGone, reason)
    }
    this.#sessions.delete(h.id)
    this.#store.remove(h.id)
    this.#role?.cluster.setLoad(this.#sessions.size)
    this.log.info("session collected", { session: h.id, reason })
    this.emit({ t: "session-collected", session: h.id, reason })
  }

  #reportDamage(e: DataDirEvent): void {
    if (e.t === "damaged-file") {
      this.log.error("damaged file in the data dir set aside", { file: e.file, movedTo: e.movedTo, why: e.why, document: e.document, session: e.session })
      this.emit({ t: "damaged-file", file: e.file, movedTo: e.movedTo, why: e.why, document: e.document, session: e.session })
    } else if (e.t === "damaged-journal") {
      this.log.error("damaged journal lines skipped; the file is set aside", { file: e.file, lines: e.lines.slice(0, 20), damagedLines: e.lines.length, movedTo: e.movedTo })
      this.emit({ t: "damaged-journal", file: e.file, lines: e.lines.slice(0, 20), damagedLines: e.lines.length, movedTo: e.movedTo })
    } else {
      this.log.error(e.why === "damaged" ? "registry damaged: rebuilt from the session documents" : "registry missing: rebuilt from the session documents", {
        files: e.setAside.map((f) => ({ file: f.file, why: f.why, movedTo: f.movedTo })),
        sessions: e.sessions,
        unreadable: e.unreadable,
      })
      this.emit({ t: "registry-rebuilt", why: e.why, setAside: e.setAside, sessions: e.sessions, unreadable: e.unreadable })
    }
  }

  async #resumeStored(): Promise<void> {
    const entries = this.#store.entries()
    let resumed = 0
    for (const [id, entry] of entries) {
      if (entry.status === "ended") {
        this.#store.remove(id)
        continue
      }
      const game = this.games.get(entry.game)
      if (!game) {
        this.log.error("stored session of an unknown game left as it is", { session: id, game: entry.game })
        this.emit({ t: "resume-failed", session: id, game: entry.game, why: "this node has no such game" })
        continue
      }
      try {
        const { record } = await this.#store.load(id)
        const hosted = new HostedSession(Session.resume(game, record), this.clock)
        hosted.holdAcks = this.#durability.holdsAcks(game)
        this.#sessions.set(id, hosted)
        this.#store.adopt(id, this.id)
        this.#wake(hosted)
        resumed++
      } catch (error) {
        this.log.error("stored session cannot be resumed; left as it is", { session: id, game: entry.game, error })
        this.emit({ t: "resume-failed", session: id, game: entry.game, why: errorText(error) })
      }
    }
    if (entries.length) {
      this.log.info("sessions resumed from the data dir", { resumed, stored: entries.length })
      this.emit({ t: "sessions-resumed", resumed, stored: entries.length })
    }
  }

  #now(): number {
    return this.#cfg.clock.now()
  }

  /**
   * What the cluster may do to this node (cluster/port.ts): freeze, thaw,
   * adopt and release sessions, their final documents, acks without a
   * replica. Private to the node and its cluster role: apps never see it.
   */
  #port(): NodePort {
    const node = this
    return {
      get id() {
        return node.id
      },
      get log() {
        return node.log
      },
      get store() {
        return node.#store
      },
      get clock() {
        return node.clock
      },
      get sessionCount() {
        return node.#sessions.size
      },
      emit: (event) => node.emit(event),
      hasSession: (id) => node.hasSession(id),
      hosted: (id) => node.hosted(id),
      hostedEpochs: () => node.#hostedEpochs(),
      epochOf: (id) => node.#epochOf(id),
      freeze: (id) => node.#freeze(id),
      thaw: (id) => node.#thaw(id),
      release: (id, reason, to) => node.#release(id, reason, to),
      adopt: (record, epoch, via, document) => node.#adopt(record, epoch, via, document),
      finalDocument: (id) => node.#finalDocument(id),
      setDraining: () => node.#setDraining(),
      recordMove: (kind, ms) => node.#recordMove(kind, ms),
      secureLocally: (h) => node.#secureLocally(h as HostedSession),
      leaseCheck: (lease) => node.#leaseCheck(lease),
      createLocal: (game, options, id, seed) => node.createLocal(game, options, id, seed),
      createdDurably: (id) => node.createdDurably(id),
      sessions: () => node.sessions(),
      timeline: (since) => node.timeline(since),
      session: (id) => node.session(id),
      inspect: (id, req) => node.inspect(id, req),
      publicSession: (id) => node.publicSession(id),
      openSessions: (game) => node.openSessions(game),
      open: (link) => node.open(link),
      handle: (link, msg) => node.handle(link, msg),
      close: (link) => node.close(link),
      rejoinLocally: (link, join, then) => node.#players.rejoinLocally(link, join, then),
      refused: (from, refusal, path) => node.#refused(from, refusal, path),
    }
  }

  /** The node's time and timers (NodeConfig.clock). */
  get clock(): Clock {
    return this.#cfg.clock
  }

  /** Raises one of this node's events (cluster code reports through here: it never imports the node). */
  emit(event: NodeEventBody): void {
    this.events.emit(event)
  }

  /** A refused cluster link: counted, and shown on the timeline aggregated per source. */
  #refused(from: string | undefined, refusal: { code: string; reason: string; node?: string }, path: string): void {
    this.linkRefusals.refused(from, refusal, path)
  }
}

/** Whether any action was ever applied to the session (each client that acted has a ledger). */
function played(r: Session["record"]): boolean {
  for (const _ in r.clients) return true
  return false
}

function randomSeed(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64url")
}

/** 12 characters of a URL-safe alphabet: ~71 bits, no coordination needed. */
function newSessionId(): string {
  const alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
  const bytes = crypto.getRandomValues(new Uint8Array(12))
  let id = ""
  for (const b of bytes) id += alphabet[b % alphabet.length]
  return id
}
