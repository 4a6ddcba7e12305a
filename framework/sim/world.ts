import type { AcceptedLink } from "../cluster/index.ts"
import { GameSession } from "../client/index.ts"
import type { AnyGame } from "../game/index.ts"
import type { Logger } from "../log/index.ts"
import { BatonNode } from "../node/index.ts"
import { httpApi } from "../server/http.ts"
import { playerSockets } from "../server/players.ts"
import { type DiskLatency, SimDisk } from "./disk.ts"
import { type DialledLink, type Endpoint, SimNetwork } from "./network.ts"
import type { Random } from "./random.ts"
import type { Owner, Scheduler } from "./scheduler.ts"

export interface WorldOptions {
  heartbeatMs: number
  failureMs: number
  replicas: number
  secret: string
  /** Each process's automerge-repo storage: a simulated disk with this latency (none: documents in memory only). */
  disk?: DiskLatency
}

/** One simulated process: a node at an address, in one incarnation (a restart is a new one). */
export interface SimProcess {
  label: string
  owner: Owner
  address: string
  version: number
  node?: BatonNode
  /** Its disk (this incarnation's), when the world gives processes one. */
  disk?: SimDisk
  state: "starting" | "up" | "stopping" | "crashed" | "gone"
}

/** What a bot saw of one action. */
export interface ActionSeen {
  id: string
  session: string
  sentAt: number
  /** Acknowledged: the position the session said it holds (the ledger's length after it). */
  ackedAt?: number
  position?: number
  /** Refused or lost with its connection: it may have been applied, at most once. */
  failed?: string
  /** The process the bot's connection reached when it was sent (a check asks whether that one lost power before the answer). */
  via?: Owner
}

/**
 * The simulated world: processes on a simulated network, and bots that play
 * through the real client SDK over simulated WebSockets. It runs real nodes;
 * only time, the network and the faults are simulated.
 */
export class World {
  readonly net: SimNetwork
  readonly procs: SimProcess[] = []
  readonly actions: ActionSeen[] = []
  readonly sessions: string[] = []
  readonly log: string[] = []
  readonly trace: string[] = []
  /** The bots' live sessions (their SDK objects), by bot name. */
  readonly bots = new Map<string, GameSession>()
  #incarnation = 0
  readonly #endpoints = new Map<SimProcess, Endpoint>()
  readonly #games: (version: number) => AnyGame[]

  constructor(
    readonly sched: Scheduler,
    readonly rnd: Random,
    readonly opts: WorldOptions,
    games: (version: number) => AnyGame[],
  ) {
    this.#games = games
    this.net = new SimNetwork(sched, rnd.fork("net"), { baseMs: 1, tailMs: 2, resetChance: 0 })
    this.net.host("front.sim", {
      owner: "world",
      accept: () => "the load balancer passes connections on",
      fetch: async () => new Response("{}", { status: 404 }),
      // The load balancer in front of the nodes: each connection to a node that is up, picked at random.
      route: () => {
        const live = this.procs.filter((p) => p.state === "up" && p.node?.status === "ready")
        return live.length ? this.#endpoints.get(this.rnd.pick(live)) : undefined
      },
    })
  }

  note(text: string): void {
    this.trace.push(`${(this.sched.now / 1000).toFixed(3)} ${text}`)
  }

  #logger(label: string): Logger {
    const write = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
      const line = `${(this.sched.now / 1000).toFixed(3)} ${label} ${level} ${msg}${fields ? ` ${safeJson(fields)}` : ""}`
      this.log.push(line)
      if (this.log.length > 4000) this.log.splice(0, 1000)
    }
    return { info: write("info"), warn: write("warn"), error: write("ERROR") }
  }

  url(p: SimProcess): string {
    return `http://${p.address}`
  }

  /** Starts a process at `address` (a new label's or a restart's); resolves once it serves. */
  /** `peers`: the labels its discovery lists (default: every other process started so far). */
  start(label: string, version: number, peerLabels?: string[]): SimProcess {
    const p: SimProcess = { label, owner: `${label}.${++this.#incarnation}`, address: `${label}.sim:3000`, version, state: "starting" }
    this.procs.push(p)
    const listed = (q: SimProcess) => q !== p && (peerLabels === undefined || peerLabels.includes(q.label))
    const peers = this.procs.filter(listed).map((q) => this.url(q))
    const clock = this.sched.clockFor(p.owner)
    if (this.opts.disk) p.disk = new SimDisk(this.sched, this.rnd.fork(`disk ${p.owner}`), p.owner, this.opts.disk)
    this.sched.after(0, () => {
      void BatonNode.start({ games: this.#games(version), clock, log: this.#logger(p.label), clustered: true, volatileStorage: p.disk }).then(
        (node) => {
          if (p.state !== "starting") return
          p.node = node
          const players = playerSockets(node)
          const http = httpApi(node, { operators: "open" })
          const endpoint = {
            owner: p.owner,
            accept: (url: URL, link: AcceptedLink) => this.#accept(p, url, link, players),
            fetch: (req: Request) => Promise.resolve(http.fetch(req, { server: { requestIP: () => null } } as never)),
          }
          this.#endpoints.set(p, endpoint)
          this.net.host(p.address, endpoint)
          node.joinCluster({
            url: this.url(p),
            version: `1.0.${version}`,
            secret: this.opts.secret,
            discovery: { peers: [...new Set([...peers, ...this.procs.filter(listed).map((q) => this.url(q))])] },
            heartbeatMs: this.opts.heartbeatMs,
            failureMs: this.opts.failureMs,
            replicas: this.opts.replicas,
            transport: this.net.transportFor(p.owner),
          })
          p.state = "up"
          this.note(`${p.label} up as ${node.id} (v${version})`)
        },
        (error) => this.note(`${p.label} failed to start: ${(error as Error).message}`),
      )
    }, p.owner)
    return p
  }

  #accept(p: SimProcess, url: URL, link: AcceptedLink, players = p.node && playerSockets(p.node)): string | undefined {
    const node = p.node
    if (!node || p.state === "crashed" || p.state === "gone") return "not serving"
    if (url.pathname === "/ws") {
      if (!players) return "not serving"
      const ws = simServerSocket(link)
      link.handlers = { message: (d) => players.message(ws as never, d as string), close: (c, r) => players.close(ws as never, c, r) }
      players.open(ws as never)
      return undefined
    }
    const kind = url.pathname === "/cluster/sync" ? "sync" : url.pathname === "/cluster/control" ? "control" : undefined
    const cluster = node.role?.cluster
    if (!kind || !cluster) return "no such endpoint"
    const auth = cluster.authenticate(url, kind)
    if (!auth.ok) return auth.reason
    this.sched.after(0, () => cluster.accept(kind, auth.node, link), p.owner)
    return undefined
  }

  /** Its disk takes `slowMs` per operation (DiskLatency.slowMs) for `ms` of virtual time. */
  slowDisk(p: SimProcess, ms: number): void {
    if (!p.disk) return
    p.disk.slowUntil = this.sched.now + ms
    this.note(`${p.label} disk slow for ${Math.round(ms)} ms`)
  }

  /** The process dies at once: its peers' links reset; nothing it held in memory survives. */
  crash(p: SimProcess, silent = false): void {
    if (p.state !== "up" && p.state !== "starting") return
    p.state = "crashed"
    this.sched.kill(p.owner)
    this.net.unhost(p.address)
    if (silent) this.net.vanished(p.owner)
    else this.net.crashed(p.owner)
    this.note(`${p.label} ${silent ? "powered off" : "crashed"}`)
  }

  /** A graceful stop (SIGTERM in a rolling deploy): drain, hand off, leave. Resolves when the process has exited. */
  stop(p: SimProcess): Promise<void> {
    const node = p.node
    if (!node || p.state !== "up") return Promise.resolve()
    p.state = "stopping"
    this.note(`${p.label} draining`)
    return new Promise((resolve) => {
      this.sched.after(0, () => {
        void node.stop("node stopping", 10_000).then(
          (out) => {
            this.note(`${p.label} stopped: moved ${out.drain?.moved ?? 0} of ${out.drain?.sessions ?? 0}`)
            p.state = "gone"
            this.sched.kill(p.owner)
            this.net.unhost(p.address)
            this.net.crashed(p.owner)
            resolve()
          },
          (error) => {
            this.note(`${p.label} stop failed: ${(error as Error).message}`)
            this.crash(p)
            resolve()
          },
        )
      }, p.owner)
    })
  }

  live(): SimProcess[] {
    return this.procs.filter((p) => p.state === "up" && p.node)
  }

  /** Creates a session on a live node (through placement, as POST /sessions does). */
  createSession(): void {
    const live = this.live()
    if (live.length === 0) return
    const p = this.rnd.pick(live)
    this.sched.after(0, () => {
      void p.node?.createSession("ledger").then(
        (s) => {
          this.sessions.push(s.id)
          this.note(`session ${s.id} created via ${p.label}`)
        },
        (error) => this.note(`create via ${p.label} refused: ${(error as Error).message}`),
      )
    }, p.owner)
  }

  /**
   * A bot playing `session` with the real SDK through the front door, or through `via` (a node's URL: a
   * relayed player, when it does not run the session), acting every `everyMs` on average until `untilMs`.
   * `direct`: the SDK moves to the session's node when relayed (its default); false keeps it relayed.
   * `livenessMs`: the SDK's (JoinOptions.livenessMs), when not its default.
   */
  bot(name: string, session: string, everyMs: number, untilMs: number, via = "http://front.sim", { direct = true, livenessMs }: { direct?: boolean; livenessMs?: number } = {}): void {
    const owner = `bot:${name}`
    const net = this.net
    // Its open connections, oldest first: the oldest is the one it acts on (a newer one is an attempt to reach the session's node directly).
    const sockets = new Set<SimSocket>()
    const WS = simWebSocketClass(net, owner, this.sched, sockets)
    this.sched.after(0, () => {
      const s = new GameSession({ url: via, session, player: name, WebSocket: WS as never, backoffMs: 100, maxBackoffMs: 2_000, direct, ...(livenessMs === undefined ? {} : { livenessMs }) })
      this.bots.set(name, s)
      s.onStatus((st) => this.note(`bot ${name} ${st}`))
      let n = 0
      const act = () => {
        if (this.sched.now >= untilMs) return
        const seen: ActionSeen = { id: `${name}-${++n}`, session, sentAt: this.sched.now, via: sockets.values().next().value?.peer }
        this.actions.push(seen)
        s.act("add", { id: seen.id }).then(
          (position) => {
            seen.ackedAt = this.sched.now
            seen.position = position as number
          },
          (error) => (seen.failed = (error as Error).message),
        )
        this.sched.after(this.rnd.exponential(everyMs), act, owner)
      }
      s.start().then(
        () => act(),
        (error) => this.note(`bot ${name} could not join ${session}: ${(error as Error).message}`),
      )
    }, owner)
  }
}

function safeJson(x: unknown): string {
  try {
    return JSON.stringify(x, (_k, v) => (v instanceof Error ? v.message : typeof v === "bigint" ? String(v) : v))
  } catch {
    return "(unprintable)"
  }
}

/** The server end of a player's connection, dressed as the Bun socket players.ts reads. */
function simServerSocket(link: AcceptedLink) {
  return {
    data: { kind: "player", errors: 0 },
    remoteAddress: "127.0.0.1",
    send: (frame: string) => (link.send(frame) ? frame.length : 0),
    close: (code?: number, reason?: string) => link.close(code, reason),
    getBufferedAmount: () => 0,
  }
}

/** What the checks read of a bot's connection: the process at its other end, once open. */
interface SimSocket {
  readonly peer: Owner | undefined
}

/** A WebSocket class (as the SDK takes one) whose connections cross the simulated network. */
function simWebSocketClass(net: SimNetwork, owner: Owner, sched: Scheduler, open: Set<SimSocket>) {
  return class SimWebSocket implements SimSocket {
    static readonly CONNECTING = 0
    static readonly OPEN = 1
    static readonly CLOSING = 2
    static readonly CLOSED = 3
    readyState = 0
    binaryType = "arraybuffer"
    onopen: (() => void) | null = null
    onmessage: ((ev: { data: string }) => void) | null = null
    onclose: ((ev: { code: number; reason: string }) => void) | null = null
    onerror: (() => void) | null = null
    #link: DialledLink | undefined

    get peer(): Owner | undefined {
      return this.#link?.peer
    }

    constructor(url: string) {
      const u = url.replace(/^ws/, "http")
      net
        .dial(owner, u, {
          message: (data) => this.onmessage?.({ data: String(data) }),
          close: (code, reason) => {
            this.readyState = 3
            open.delete(this)
            this.onclose?.({ code, reason })
          },
        }, 5_000)
        .then(
          (link) => {
            // Given up while it was connecting: the late connection is closed, never opened.
            if (this.readyState >= 2) return link.close(1000, "gave up")
            this.#link = link
            this.readyState = 1
            open.add(this)
            this.onopen?.()
          },
          () => {
            this.readyState = 3
            sched.after(0, () => this.onclose?.({ code: 1006, reason: "connection failed" }), owner)
          },
        )
    }

    send(data: string): void {
      this.#link?.send(data)
    }

    close(code?: number, reason?: string): void {
      if (this.readyState >= 2) return
      this.readyState = 2
      open.delete(this)
      if (this.#link) this.#link.close(code, reason)
      else this.readyState = 3
    }
  }
}
