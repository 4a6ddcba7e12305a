import type { ActionNames, AnyGame, InputOf, ResultOf, ViewOf } from "../game/define.ts"
// The protocol's files, not its index: that one also brings the node's frame checks, and with them the
// game runtime (mutative, valibot) into every browser bundle.
import { type ClientMessage, CloseCode, MAX_FRAME_BYTES, type NoticeCode, type ServerMessage, type SessionStatus } from "../protocol/messages.ts"
import { applyPatch } from "../protocol/patch.ts"
import { type Pending, PendingActions } from "./pending.ts"

/** An action the session refused, or a connection that could not carry it. `code` is stable. */
export class ActionError extends Error {
  /** Raised by the SDK; `message` is for people. */
  constructor(
    /** Stable, for programs: the game's `reject` code or the framework's (`invalid_input`, `session_ended`, `closed`...). */
    readonly code: string,
    message: string,
  ) {
    super(message)
    this.name = "ActionError"
  }
}

/**
 * The connection: "connecting" (the first time), "open" (seated, actions
 * flow), "reconnecting" (lost: actions wait and are resent), "closed" (for
 * good: `close`, `leave`, or a refusal such as an ended session).
 */
export type ConnectionStatus = "connecting" | "open" | "reconnecting" | "closed"

/** See GameSession.notice. */
export interface Notice {
  /**
   * "no_replica": no other node confirms the session's changes yet;
   * "no_quorum": the session's node is cut off from most of the cluster;
   * "owner_unreachable": the session's node cannot be reached from here.
   */
  code: Exclude<NoticeCode, "resolved">
  /** The same, for people. */
  message: string
}

/** What `join` takes: where, which session, as whom, and how to reconnect. */
export interface JoinOptions {
  /** The node (or front door): http(s)://host:port; in a browser, the page's origin by default. */
  url?: string
  /**
   * More addresses of the same cluster (nodes or front doors), tried in turn
   * after `url` when a connection attempt fails. The SDK also learns the
   * cluster's members from the node it joins, and tries them last.
   */
  urls?: string[]
  /**
   * An action not answered within this many ms rejects with code "timeout"
   * and is no longer resent; it may still have been applied (default 0: wait
   * for as long as the session lasts, resending across reconnects).
   */
  actTimeoutMs?: number
  /** The session's id (from `createSession` or `listSessions`). */
  session: string
  /** This player's id. Remember it to get your seat back later. */
  player: string
  /** First reconnect delay, ms, doubled per failure up to `maxBackoffMs` (jittered). Default 100. */
  backoffMs?: number
  /** Longest reconnect delay, ms (default 5,000). */
  maxBackoffMs?: number
  /**
   * A connection silent this long is given up and replaced, ms (default
   * 10,000). The SDK pings after half of it, and gives up when half of it
   * passes without an answer; while an action has waited 1.5 s (or three
   * round trips, if longer) in silence it pings, and gives up as long after.
   * A join unanswered this long is sent again elsewhere. A node that lost power
   * or a network that dropped the route closes nothing, and without this the
   * player would wait on a dead connection. 0 turns it off.
   */
  livenessMs?: number
  /** A WebSocket implementation where the global one is missing. */
  WebSocket?: typeof WebSocket
  /**
   * A signed player token (the node's BATON_PLAYER_SECRET tokens, or your own
   * authenticate hook's), sent on every (re)connect; a function is asked anew
   * each time, so an expiring token can be refreshed.
   */
  token?: string | (() => string | Promise<string>)
  /**
   * When the node joined relays this player to the node that runs the
   * session, also join that node directly and move there once seated (one
   * hop instead of three; the relayed connection serves until then). Where
   * nodes' addresses are not reachable from players, the attempt fails
   * quietly and the player stays relayed. Default true.
   */
  direct?: boolean
}

/** What `act` returns: the answer to come, and the action's id (per client, counting up from 1; 0: never sent). */
export type ActionPromise<T = unknown> = Promise<T> & { readonly id: number }

/** A direct connection to the session's node that has not joined within this long is given up, ms. */
const DIRECT_PATIENCE_MS = 3_000
/** An address a direct connection failed to is not tried again for this long, ms. */
const DIRECT_RETRY_MS = 60_000

/** A server's reconnect hint older than this is not worth trying first: the cluster may have moved on. */
const HINT_TTL_MS = 10_000
/** With an action waiting this long in silence, a ping; unanswered this long, the connection is given up, ms (at least three round trips). */
const SUSPECT_MS = 1_500
/** A connection not open after this long (or livenessMs, if less) is given up, ms. */
const CONNECT_MS = 5_000

/** The longest delay setTimeout keeps (a longer one fires at once), ms. */
const MAX_TIMER_MS = 2 ** 31 - 1
/**
 * Refusals that mean this player holds no seat there: to a leave, what it
 * wanted (a leave applied whose answer was lost, then a join again refused).
 */
const SEAT_NOT_HELD = new Set(["not_seated", "session_full", "session_ended", "unknown_session", "session_gone", "session_lost"])

/** Close codes after which reconnecting would only repeat the failure. */
const FINAL_CLOSES = new Set<number>([CloseCode.protocolAbuse, CloseCode.sessionGone, CloseCode.sessionLost, CloseCode.unsupportedData, CloseCode.tooLarge, CloseCode.unauthorized])

/**
 * A seat in a game session, typed from the game module. Keeps the player's
 * view current from the server's deltas, reconnects by itself, and resends
 * what was not acknowledged (the server applies each action id once).
 */
export class GameSession<G extends AnyGame = AnyGame> {
  /** The session's id. */
  readonly id: string
  /** This player's id. */
  readonly player: string
  /** Random per instance: the server counts action ids per client. */
  readonly client = randomId()
  #state: ViewOf<G> = undefined as ViewOf<G>
  #seat = -1
  #rev = 0
  #status: ConnectionStatus = "connecting"
  #sessionStatus: SessionStatus = "open"
  #result: unknown = undefined
  #ws: WebSocket | undefined
  #nextId = 1
  #pending = new PendingActions()
  #stateListeners = new Set<(state: ViewOf<G>, prev: ViewOf<G>) => void>()
  #eventListeners = new Map<string, Set<(data: unknown, event: string) => void>>()
  #statusListeners = new Set<(status: ConnectionStatus) => void>()
  #notice: Notice | null = null
  #noticeListeners = new Set<(notice: Notice | null) => void>()
  #endListeners = new Set<(result: unknown) => void>()
  #error: ActionError | null = null
  #attempt = 0
  #retry: ReturnType<typeof setTimeout> | undefined
  #joined: { resolve(): void; reject(e: ActionError): void } | undefined
  /** A leave the node has not confirmed: sent again on every connection that joins until it says "left" (`sentOn`: the last one it went on). */
  #leaving: { promise: Promise<void>; resolve(): void; reject(e: ActionError): void; timer?: ReturnType<typeof setTimeout>; sentOn?: WebSocket } | undefined
  /** The node confirmed the leave. */
  #left = false
  /** Where the server said to go next (the session's new owner, the node's peers); tried first while fresh. */
  #hints: { url: string; at: number }[] = []
  /** The addresses given (url, then urls), as WebSocket URLs. */
  #bases: string[] = []
  /** The cluster's members as the last node joined listed them (WebSocket URLs). */
  #learned: string[] = []
  /** Which address the next attempt uses (advanced when an attempt fails). */
  #turn = 0
  /** A direct connection to the session's node, joining while the relayed one serves. */
  #direct: WebSocket | undefined
  /** A direct connection given up after its join was sent, until its close is answered (a leave waits for that). */
  #directClosing: WebSocket | undefined
  /** Session nodes a direct connection failed to, and when. */
  #unreachable = new Map<string, number>()
  /** The connection that got a "joined": a close of any other one was a failed attempt. */
  #joinedWs: WebSocket | undefined
  #lostTries = 0
  #opts: Required<Omit<JoinOptions, "url" | "urls" | "WebSocket" | "token">> & { WebSocket: typeof WebSocket; token?: JoinOptions["token"] }

  /** Prefer `join(opts)`, which also connects; after `new`, call `start()`. Throws without a `url` outside a browser. */
  constructor(opts: JoinOptions) {
    this.id = opts.session
    this.player = opts.player
    const base = opts.url ?? (typeof location !== "undefined" ? location.origin : undefined)
    if (!base) throw new ActionError("bad_request", "join({ url }) is required outside a browser")
    const Impl = opts.WebSocket ?? globalThis.WebSocket
    if (!Impl) throw new ActionError("bad_request", "no WebSocket implementation: pass join({ WebSocket })")
    this.#opts = {
      session: opts.session,
      player: opts.player,
      backoffMs: opts.backoffMs ?? 100,
      maxBackoffMs: opts.maxBackoffMs ?? 5000,
      livenessMs: opts.livenessMs ?? 10_000,
      actTimeoutMs: opts.actTimeoutMs ?? 0,
      direct: opts.direct ?? true,
      WebSocket: Impl,
      token: opts.token,
    }
    this.#bases = [...new Set([base, ...(opts.urls ?? [])].map(toWsUrl))]
  }

  /** The player's view of the state; a new object wherever something changed. */
  get state(): ViewOf<G> {
    return this.#state
  }
  /** This player's seat (from 0), or -1 until it is seated. */
  get seat(): number {
    return this.#seat
  }
  /** The connection's status; `onStatus` tells of changes. */
  get status(): ConnectionStatus {
    return this.#status
  }
  /** Whether the session has ended (see `result`); actions are refused from then on. */
  get ended(): boolean {
    return this.#sessionStatus === "ended"
  }
  /** What the game passed to `end(...)`, once it ended. */
  get result(): unknown {
    return this.#result
  }
  /**
   * Why actions are not being answered right now (a partition, no replica,
   * the session's node unreachable), or null. Actions are kept and resent
   * meanwhile; none is lost. Show it to the player.
   */
  get notice(): Notice | null {
    return this.#notice
  }

  /**
   * Why the SDK gave up on this session (the join was refused, the session
   * is gone or lost), or null: set when `status` turns "closed" by itself,
   * not by `close` or `leave`.
   */
  get error(): ActionError | null {
    return this.#error
  }

  /** Called once with the result when the session ends (an end can change no state, so `subscribe` may not hear of it). Returns an unsubscribe. */
  onEnd(fn: (result: unknown) => void): () => void {
    this.#endListeners.add(fn)
    return () => this.#endListeners.delete(fn)
  }

  /** Called with the notice when it changes (null: answered again). Returns an unsubscribe. */
  onNotice(fn: (notice: Notice | null) => void): () => void {
    this.#noticeListeners.add(fn)
    return () => this.#noticeListeners.delete(fn)
  }

  /** Actions sent and not yet acknowledged. */
  get pendingCount(): number {
    return this.#pending.size
  }

  /** Connects and takes the seat; resolves once the first view arrived. */
  start(): Promise<this> {
    return new Promise<this>((resolve, reject) => {
      this.#joined = { resolve: () => resolve(this), reject }
      void this.#connect()
    })
  }

  /**
   * Sends an action. Resolves with what the action returned (its `apply`'s
   * return type, as JSON carries it); rejects with an
   * ActionError (invalid input, a game rule, a closed session). Survives
   * reconnects: it is resent until acknowledged and applied once.
   */
  act<K extends ActionNames<G>>(name: K, ...input: undefined extends InputOf<G, K> ? [input?: InputOf<G, K>] : [input: InputOf<G, K>]): ActionPromise<ResultOf<G, K>> {
    if (this.#status === "closed") return withId(Promise.reject(new ActionError("closed", "this session connection is closed")), 0)
    if (this.#leaving) return withId(Promise.reject(new ActionError("closed", "this player is leaving the session")), 0)
    const frame = JSON.stringify({ t: "act", id: this.#nextId, name, input: input[0] } satisfies ClientMessage)
    if (frame.length > MAX_FRAME_BYTES)
      return withId(Promise.reject(new ActionError("frame_too_large", `action ${name} is ${frame.length} bytes, over the ${MAX_FRAME_BYTES}-byte limit`)), 0)
    const id = this.#nextId++
    let resolve!: (value: unknown) => void
    let reject!: (error: ActionError) => void
    const answer = new Promise<ResultOf<G, K>>((res, rej) => {
      resolve = res as (value: unknown) => void
      reject = rej
    })
    const p: Pending = { id, frame, resolve, reject }
    const timeoutMs = this.#opts.actTimeoutMs
    if (timeoutMs > 0) {
      const timer = setTimeout(() => this.#giveUp(id, timeoutMs), timeoutMs)
      p.resolve = (v) => (clearTimeout(timer), resolve(v))
      p.reject = (e) => (clearTimeout(timer), reject(e as ActionError))
    }
    const prev = this.#pending.newest()
    if (this.#pending.size === 0) this.#progressAt = Date.now()
    this.#pending.add(p)
    if (this.#status === "open") this.#ws?.send(this.#frameOf(p, prev))
    return withId(answer, id)
  }

  /** actTimeoutMs passed: the action stops being resent; whether the node applied it is not known here. */
  #giveUp(id: number, ms: number): void {
    const p = this.#pending.get(id)
    if (!p) return
    this.#pending.delete(id)
    p.reject(new ActionError("timeout", `action ${id} was not answered within ${ms} ms; it is no longer resent and may or may not have been applied`))
    this.#sendLeaveWhenDue()
  }

  /** Calls `fn` after every change of the view. Returns the unsubscribe function. */
  subscribe(fn: (state: ViewOf<G>, prev: ViewOf<G>) => void): () => void {
    this.#stateListeners.add(fn)
    return () => this.#stateListeners.delete(fn)
  }

  /** Listens to a game event (`ctx.emit(name, data)`), or to all with "*". */
  on(event: string, fn: (data: unknown, event: string) => void): () => void {
    let set = this.#eventListeners.get(event)
    if (!set) this.#eventListeners.set(event, (set = new Set()))
    set.add(fn)
    return () => set.delete(fn)
  }

  /** Called with the connection's status when it changes. Returns an unsubscribe. */
  onStatus(fn: (status: ConnectionStatus) => void): () => void {
    this.#statusListeners.add(fn)
    return () => this.#statusListeners.delete(fn)
  }

  /**
   * Gives up the seat, then closes. Resolves once the node says the seat is
   * free (under "replicated", once a replica holds that). The leave goes
   * after every action sent before it is answered, and again on every
   * reconnect until it is confirmed: one lost with a dropped connection would
   * leave the seat taken. Rejects with the node's refusal, with "timeout"
   * after `timeoutMs` (0: no limit), or with "closed" when `close()` cuts it
   * short or the connection was closed before: then the seat may still be taken.
   */
  leave(timeoutMs = 10_000): Promise<void> {
    if (this.#leaving) return this.#leaving.promise
    if (this.#left || (this.#error && SEAT_NOT_HELD.has(this.#error.code))) return Promise.resolve()
    if (this.#status === "closed") return Promise.reject(new ActionError("closed", "this session connection is closed; the seat may still be taken: join again to leave"))
    let resolve!: () => void
    let reject!: (e: ActionError) => void
    const promise = new Promise<void>((res, rej) => {
      resolve = res
      reject = rej
    })
    const ms = Number.isFinite(timeoutMs) && timeoutMs > 0 ? Math.min(timeoutMs, MAX_TIMER_MS) : 0
    const timer = ms ? setTimeout(() => this.#leaveEnded(new ActionError("timeout", `the node did not confirm the leave within ${ms} ms; the seat may still be taken`)), ms) : undefined
    this.#leaving = { promise, resolve, reject, timer }
    this.#sendLeaveWhenDue()
    return promise
  }

  /**
   * Sends the leave once it is due: joined, every earlier action answered
   * (one resent after a refusal would otherwise come after it), no direct
   * connection joining (it goes there once that one joins), and not sent
   * on this connection yet.
   */
  #sendLeaveWhenDue(): void {
    const l = this.#leaving
    if (!l || this.#status !== "open" || this.#direct || this.#directClosing || this.#pending.size > 0 || !this.#ws || l.sentOn === this.#ws) return
    l.sentOn = this.#ws
    // Owed an answer like an action: a connection that stays silent is given up as soon.
    this.#progressAt = Date.now()
    this.#ws.send(JSON.stringify({ t: "leave" } satisfies ClientMessage))
  }

  /** The leave is over, and so is the connection: confirmed (no error), refused, or timed out. */
  #leaveEnded(error?: ActionError): void {
    this.#settleLeave(error)
    this.close()
  }

  #settleLeave(error?: ActionError): void {
    const leaving = this.#leaving
    if (!leaving) return
    this.#leaving = undefined
    clearTimeout(leaving.timer)
    // A refusal that means the seat is not this player's any more is what the leave wanted.
    if (!error || SEAT_NOT_HELD.has(error.code)) {
      this.#left = true
      leaving.resolve()
    } else leaving.reject(error)
  }

  /** Closes without giving up the seat (join again later with the same player id). */
  close(): void {
    this.#settleLeave(new ActionError("closed", "the connection was closed before the node confirmed the leave; the seat may still be taken"))
    this.#joined?.reject(new ActionError("closed", "the connection was closed before the join completed"))
    this.#joined = undefined
    this.#setStatus("closed")
    clearTimeout(this.#retry)
    clearTimeout(this.#resendTimer)
    clearInterval(this.#watch)
    this.#dropDirect()
    this.#ws?.close(CloseCode.normal, "client closed")
    for (const p of this.#pending.values()) p.reject(new ActionError("closed", "the connection was closed before the action was acknowledged"))
    this.#pending.clear()
  }

  /** Where the next attempt goes: a fresh hint from the server, else the addresses in turn (the given ones, then the learned members). */
  #nextUrl(): string {
    const now = Date.now()
    this.#hints = this.#hints.filter((h) => now - h.at < HINT_TTL_MS)
    const hint = this.#hints.shift()
    if (hint) return hint.url
    return this.#currentAddress()
  }

  #currentAddress(): string {
    const all = [...this.#bases, ...this.#learned.filter((u) => !this.#bases.includes(u))]
    return all[this.#turn % all.length] as string
  }

  async #token(): Promise<string | undefined> {
    return typeof this.#opts.token === "function" ? await this.#opts.token() : this.#opts.token
  }

  async #connect(): Promise<void> {
    const address = this.#nextUrl()
    let url = address
    let ws: WebSocket
    try {
      const token = await this.#token()
      if (token) url += `?token=${encodeURIComponent(token)}`
      if (this.#status === "closed") return
      ws = new this.#opts.WebSocket(url)
      this.#addressOf.set(ws, address)
    } catch {
      // No token to be had (the function threw: its endpoint down, say), or an address the runtime
      // refuses: a failed attempt like any other, tried again after the backoff instead of never.
      if (this.#status === "closed") return
      this.#turn++
      this.#retryLater()
      return
    }
    const dialledAt = Date.now()
    ws.onopen = () => {
      this.#joinSentAt = Date.now()
      // Opening took a round trip or more (TCP, TLS, the upgrade): a sample no session's wait inflates, as a join's answer could.
      this.#sampleRtt(this.#joinSentAt - dialledAt)
      // A leave went out on an earlier connection (so nothing is left to resend): a join that only gives the
      // seat up. Were the player seated again first, a leave applied whose "left" was lost would run the
      // game's onJoin and onLeave once more.
      ws.send(this.#joinFrame(this.#leaving?.sentOn !== undefined))
    }
    ws.onerror = () => {} // a close follows; that is where we act
    this.#adopt(ws)
  }

  #joinFrame(leave = false): string {
    const join: ClientMessage = { t: "join", session: this.id, player: this.player, client: this.client }
    return JSON.stringify(leave ? { ...join, leave } : join)
  }

  /** Makes `ws` the connection: its frames are read, its silence watched, its close acted on. */
  #adopt(ws: WebSocket): void {
    this.#ws = ws
    this.#watchLiveness(ws)
    ws.onmessage = (ev) => {
      this.#heardAt = Date.now()
      this.#onFrame(typeof ev.data === "string" ? ev.data : String(ev.data))
    }
    ws.onclose = (ev) => this.#onClose(ws, ev.code, ev.reason)
  }

  #watch: ReturnType<typeof setInterval> | undefined
  #heardAt = 0
  /** When the current connection sent its join (0: not yet); see #watchLiveness. */
  #joinSentAt = 0
  /** When the current ping went out (0: none unanswered). */
  #pingedAt = 0
  /** When an action was last answered, or the first of those pending sent: how long the player has waited. */
  #progressAt = 0
  /** A smoothed round trip to the node (opening a connection, pongs), ms; 0 until measured. */
  #rttMs = 0
  /** The address each connection was opened to (a silent one is not tried again first). */
  #addressOf = new WeakMap<WebSocket, string>()

  #sampleRtt(ms: number): void {
    this.#rttMs = this.#rttMs ? 0.8 * this.#rttMs + 0.2 * ms : ms
  }

  /**
   * Relayed to the session's node at `owner`: joins there too, and once
   * seated moves over and closes the relayed connection. Make before break:
   * actions keep flowing through the relay meanwhile, and whatever it had
   * not acknowledged is resent on the new connection (answered from the
   * ledger if it was applied).
   */
  async #goDirect(owner: string): Promise<void> {
    // Leaving: the seat is being given up where it is; moving now would only race that.
    if (!this.#opts.direct || this.#direct || this.#leaving) return
    const url = nodeUrls([owner])[0]
    if (!url) return
    const failedAt = this.#unreachable.get(url)
    if (failedAt !== undefined && Date.now() - failedAt < DIRECT_RETRY_MS) return
    let token: string | undefined
    try {
      token = await this.#token()
    } catch {
      return // no token now: the relayed connection serves; the next join tries again
    }
    if (this.#status !== "open" || this.#direct || this.#leaving) return
    let ws: WebSocket
    try {
      ws = new this.#opts.WebSocket(token ? `${url}?token=${encodeURIComponent(token)}` : url)
    } catch {
      // Refused by the runtime (an insecure address from a secure page): stay relayed.
      this.#unreachable.set(url, Date.now())
      return
    }
    this.#direct = ws
    const giveUp = () => {
      if (this.#direct !== ws) return
      this.#unreachable.set(url, Date.now())
      const joinSent = ws.readyState === 1
      this.#dropDirect()
      // A leave held back for this connection goes on the relayed one, but not before the join sent on this
      // one has been read (its close answered): a leave read first would be undone by that join.
      if (!joinSent || !this.#leaving) return this.#sendLeaveWhenDue()
      this.#directClosing = ws
      const done = () => {
        if (this.#directClosing !== ws) return
        this.#directClosing = undefined
        this.#sendLeaveWhenDue()
      }
      ws.onclose = done
      // A node too stalled to answer the close: the leave goes after the patience anyway.
      setTimeout(done, DIRECT_PATIENCE_MS)
    }
    const patience = setTimeout(giveUp, DIRECT_PATIENCE_MS)
    ws.onopen = () => ws.send(this.#joinFrame())
    ws.onerror = () => {}
    ws.onclose = () => (clearTimeout(patience), giveUp())
    ws.onmessage = (ev) => {
      clearTimeout(patience)
      const text = typeof ev.data === "string" ? ev.data : String(ev.data)
      // The relayed connection dropped meanwhile: its reconnect decides where to go.
      if (this.#status !== "open") return this.#dropDirect()
      // Anything but a seat (the session moved on, a refusal): the relayed connection stays.
      if (!text.startsWith('{"t":"joined"')) return giveUp()
      this.#direct = undefined
      const relayed = this.#ws
      if (relayed) {
        relayed.onclose = null
        relayed.onmessage = null
        relayed.close(CloseCode.normal, "moved to the session's node")
      }
      this.#adopt(ws)
      this.#onFrame(text)
    }
  }

  #dropDirect(): void {
    const ws = this.#direct
    if (!ws) return
    this.#direct = undefined
    ws.onclose = null
    ws.onmessage = null
    ws.close(CloseCode.normal, "not needed")
  }

  /**
   * Pings a quiet connection, and replaces one that stays silent (see
   * JoinOptions.livenessMs). While an action waits for its answer the
   * connection is suspected sooner: a relay node that lost power, or a phone
   * that changed networks, would otherwise leave the player acting into a
   * dead socket for the whole liveness window.
   */
  #watchLiveness(ws: WebSocket): void {
    clearInterval(this.#watch)
    this.#joinSentAt = 0
    this.#pingedAt = 0
    const ms = this.#opts.livenessMs
    if (!ms) return
    this.#heardAt = Date.now()
    const openedAt = this.#heardAt
    this.#watch = setInterval(() => {
      if (ws !== this.#ws || this.#status === "closed") return clearInterval(this.#watch)
      const now = Date.now()
      const replace = (why: string) => {
        clearInterval(this.#watch)
        ws.onopen = null
        ws.onclose = null
        ws.onmessage = null
        ws.close(CloseCode.normal, "no answer")
        this.#onClose(ws, 1006, why, true)
      }
      // A node that froze (or a route that died) can hold a new connection's upgrade unanswered for good.
      if (ws.readyState === 0 && now - openedAt >= Math.min(ms, CONNECT_MS)) return replace(`not connected within ${now - openedAt} ms`)
      // A join is a request like any other: a connection that answers pings and never the join is no better than a dead one.
      if (this.#status !== "open" && this.#joinSentAt && now - this.#joinSentAt >= ms) return replace(`no answer to the join within ${ms} ms`)
      if (this.#pingedAt && this.#heardAt >= this.#pingedAt) this.#pingedAt = 0
      // Sooner while an action waits, never sooner than a few round trips of this connection.
      const suspectMs = Math.min(ms / 2, Math.max(SUSPECT_MS, 3 * this.#rttMs))
      // Waiting: for an action's answer, or for the join's (a relay node that lost power answers neither).
      const waiting =
        this.#status === "open"
          ? (this.#pending.size > 0 || this.#leaving !== undefined) && now - this.#progressAt >= suspectMs
          : this.#joinSentAt > 0 && now - this.#joinSentAt >= suspectMs
      if (this.#pingedAt) {
        if (now - this.#pingedAt >= (waiting ? suspectMs : ms / 2)) replace(`no answer to a ping within ${now - this.#pingedAt} ms`)
        return
      }
      const silent = now - this.#heardAt
      if (silent >= ms / 2 || (waiting && silent >= suspectMs)) {
        if (ws.readyState === 1) ws.send(JSON.stringify({ t: "ping" } satisfies ClientMessage))
        this.#pingedAt = now
      }
    }, Math.max(50, Math.min(ms / 4, SUSPECT_MS / 3)))
  }

  #onFrame(text: string): void {
    const msg = JSON.parse(text) as ServerMessage
    switch (msg.t) {
      case "joined": {
        this.#attempt = 0
        this.#progressAt = Date.now()
        this.#joinedWs = this.#ws
        if (msg.nodes) this.#learned = nodeUrls(msg.nodes)
        this.#lostTries = 0
        this.#seat = msg.seat
        this.#rev = msg.rev
        const ends = this.#setSessionStatus(msg.status, msg.result)
        this.#setState(msg.view as ViewOf<G>)
        if (ends) this.#announceEnd()
        this.#setNotice(null)
        this.#setStatus("open")
        // Everything not acknowledged goes again, in order; the server answers repeats from its ledger.
        this.#resendAll()
        // Seated again, maybe on the same connection (a relay that re-joined the session's new owner): a leave goes again.
        if (this.#leaving) this.#leaving.sentOn = undefined
        this.#sendLeaveWhenDue()
        this.#joined?.resolve()
        this.#joined = undefined
        if (typeof msg.owner === "string" && /^(https?|wss?):\/\//.test(msg.owner)) void this.#goDirect(msg.owner)
        return
      }
      case "u": {
        this.#rev = msg.rev
        const ends = msg.status !== undefined && this.#setSessionStatus(msg.status, msg.result)
        if (msg.d) this.#setState(applyPatch(this.#state, msg.d))
        if (ends) this.#announceEnd()
        for (const a of msg.a ?? []) {
          const p = this.#pending.get(a.i)
          if (!p) continue
          // An earlier action was lost on the way (it is still pending here): it goes again first, then this one.
          if (!a.ok && a.c === "out_of_order") {
            this.#resendSoon()
            continue
          }
          this.#pending.delete(a.i)
          this.#progressAt = Date.now()
          if (a.ok) p.resolve(a.v)
          else p.reject(new ActionError(a.c, a.m))
        }
        this.#sendLeaveWhenDue()
        for (const e of msg.e ?? []) {
          for (const fn of this.#eventListeners.get(e.e) ?? []) fn(e.d, e.e)
          for (const fn of this.#eventListeners.get("*") ?? []) fn(e.d, e.e)
        }
        return
      }
      case "error": {
        // Every copy of the session is gone: nothing to wait or reconnect for.
        if (msg.code === "session_lost") return this.#fail(new ActionError(msg.code, msg.message))
        if (this.#status !== "open" && msg.ref === "join" && msg.code === "unavailable" && this.#joined === undefined) {
          // The session exists but cannot be reached from where we landed (a partition): say so and keep trying.
          this.#setNotice({ code: "owner_unreachable", message: msg.message })
          this.#ws?.close(CloseCode.normal, "retrying")
          return
        }
        if (this.#status !== "open" && (msg.ref === "join" || msg.code === "unknown_session")) {
          // After a move the session can be briefly unknown where we land: retry a few times before giving up.
          if (this.#status === "reconnecting" && msg.code === "unknown_session" && this.#lostTries++ < 8) {
            this.#ws?.close(CloseCode.normal, "retrying elsewhere")
            return
          }
          this.#fail(new ActionError(msg.code, msg.message))
          return
        }
        if (msg.ref === "leave" && this.#leaving) {
          // Dropped unread: again a little later. Anything else is the node's answer to it.
          if (msg.code === "rate_limited" || msg.code === "unavailable") {
            this.#leaving.sentOn = undefined
            setTimeout(() => this.#sendLeaveWhenDue(), 100 + Math.random() * 100)
            return
          }
          return this.#leaveEnded(new ActionError(msg.code, msg.message))
        }
        const p = typeof msg.ref === "number" ? this.#pending.get(msg.ref) : undefined
        if (p && msg.code === "rate_limited") {
          // The node dropped the frame unread: send it again a little later (the id keeps it exactly-once).
          setTimeout(() => this.#pending.has(p.id) && this.#status === "open" && this.#ws?.send(this.#frameOf(p)), 100 + Math.random() * 100)
          return
        }
        if (p) {
          this.#pending.delete(p.id)
          p.reject(new ActionError(msg.code, msg.message))
          this.#sendLeaveWhenDue()
        }
        return
      }
      case "notice":
        // The node says why the join or the actions wait (a relay's owner out of reach, no majority):
        // it is working on them, so the join's patience starts again.
        if (this.#status !== "open" && this.#joinSentAt) this.#joinSentAt = Date.now()
        this.#setNotice(msg.code === "resolved" ? null : { code: msg.code, message: msg.message })
        return
      case "reconnect": {
        // The node is going away or the session moved; its close (1001/4010) follows and we reconnect then.
        const urls = nodeUrls(msg.urls ?? [])
        this.#hints = urls.map((url) => ({ url, at: Date.now() }))
        // Known addresses too, tried in turn with the others: a hint's one attempt can fail (the node still
        // starting, the session between owners), and the addresses known before may all be gone by then
        // (every node a player knew replaced in a rolling deploy).
        this.#learned = [...new Set([...urls, ...this.#learned])]
        return
      }
      case "left":
        return this.#leaveEnded()
      case "pong":
        if (this.#pingedAt) this.#sampleRtt(Date.now() - this.#pingedAt)
        return
    }
  }

  /**
   * An action's frame as sent now. `p` names the action still pending before
   * it, which the node must have applied first: if its frame was lost on the
   * way (a relay cut, a rate limit), applying this one first would make that
   * one's resend look like a repeat, answered and never applied.
   */
  #frameOf(p: Pending, prev = this.#pending.before(p.id)): string {
    return prev ? `${p.frame.slice(0, -1)},"p":${prev}}` : p.frame
  }

  /** Every pending action, oldest first (ids count up, and the map keeps their order), each naming the one before. */
  #resendAll(): void {
    let prev = 0
    for (const p of this.#pending.values()) {
      this.#ws?.send(this.#frameOf(p, prev))
      prev = p.id
    }
  }

  #resendTimer: ReturnType<typeof setTimeout> | undefined
  /** Once, shortly: every pending action again, oldest first (the node answers repeats from its ledger). */
  #resendSoon(): void {
    if (this.#resendTimer !== undefined) return
    this.#resendTimer = setTimeout(() => {
      this.#resendTimer = undefined
      if (this.#status !== "open") return // a join resends them anyway
      this.#resendAll()
    }, 50 + Math.random() * 50)
  }

  /** `silent`: given up by the liveness watch: the next attempt does not go back to the silent address first. */
  #onClose(ws: WebSocket, code: number, reason: string, silent = false): void {
    if (ws !== this.#ws || this.#status === "closed") return
    if (FINAL_CLOSES.has(code)) {
      const why = code === CloseCode.sessionGone ? "session_gone" : code === CloseCode.sessionLost ? "session_lost" : "closed"
      this.#fail(new ActionError(why, `connection closed (${code}${reason ? `: ${reason}` : ""})`))
      return
    }
    this.#setStatus("reconnecting")
    // An attempt that never joined failed where it went, and a silent node is likely still silent: the
    // next attempt tries the next address. A reset joined connection tries its address again, and so
    // does one whose silent connection went elsewhere (straight to its session's node, say).
    if (ws !== this.#joinedWs || (silent && this.#addressOf.get(ws) === this.#currentAddress())) this.#turn++
    this.#retryLater()
  }

  #retryLater(): void {
    // A hint from the server is worth trying at once; otherwise back off.
    const delay = this.#hints.length > 0 && this.#attempt === 0 ? 0 : Math.min(this.#opts.maxBackoffMs, this.#opts.backoffMs * 2 ** this.#attempt++)
    this.#retry = setTimeout(() => void this.#connect(), delay * (0.8 + Math.random() * 0.4))
  }

  #fail(error: ActionError): void {
    this.#error = error
    this.#settleLeave(error)
    this.#joined?.reject(error)
    this.#joined = undefined
    this.#setStatus("closed")
    this.#dropDirect()
    this.#ws?.close(CloseCode.normal, "client giving up")
    for (const p of this.#pending.values()) p.reject(error)
    this.#pending.clear()
  }

  #setState(next: ViewOf<G>): void {
    const prev = this.#state
    this.#state = next
    for (const fn of this.#stateListeners) fn(next, prev)
  }

  /** Whether the session ends with this status; the caller tells onEnd's listeners once the last view is in. */
  #setSessionStatus(status: SessionStatus, result: unknown): boolean {
    const ends = status === "ended" && this.#sessionStatus !== "ended"
    this.#sessionStatus = status
    this.#result = result
    return ends
  }

  #announceEnd(): void {
    for (const fn of this.#endListeners) fn(this.#result)
  }

  #setNotice(notice: Notice | null): void {
    if (notice?.code === this.#notice?.code) return
    this.#notice = notice
    for (const fn of this.#noticeListeners) fn(notice)
  }

  #setStatus(status: ConnectionStatus): void {
    if (this.#status === status) return
    this.#status = status
    for (const fn of this.#statusListeners) fn(status)
  }
}

/** The node addresses in a node's list (members, hints) as WebSocket URLs; anything else is dropped. */
function nodeUrls(list: unknown): string[] {
  if (!Array.isArray(list)) return []
  const out: string[] = []
  for (const u of list) {
    if (typeof u !== "string" || !/^(https?|wss?):\/\//.test(u)) continue
    try {
      out.push(toWsUrl(u))
    } catch {
      // not a URL after all
    }
  }
  return out
}

function toWsUrl(base: string): string {
  const u = new URL(base)
  u.protocol = u.protocol === "https:" || u.protocol === "wss:" ? "wss:" : "ws:"
  u.pathname = "/ws"
  u.search = ""
  return u.toString()
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(9))
  return btoa(String.fromCharCode(...bytes)).replace(/[+/=]/g, (c) => (c === "+" ? "-" : c === "/" ? "_" : ""))
}

function withId<T>(promise: Promise<T>, id: number): ActionPromise<T> {
  ;(promise as { id?: number }).id = id
  return promise as ActionPromise<T>
}
