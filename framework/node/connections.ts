import { type Clock, type ClusterRole, lostMessage } from "../cluster/index.ts"
import type { PlayerId } from "../game/index.ts"
import type { Logger } from "../log/index.ts"
import type { Registry } from "../metrics/index.ts"
import { type ClientMessage, CloseCode, clientError, type ServerMessage } from "../protocol/index.ts"
import type { NodeEventBody } from "./events.ts"
import { handlerFailures } from "./failures.ts"
import type { HostedSession, PlayerLink } from "./hosted.ts"

/** What a node's player connections need of the node: its sessions, its cluster part, its clock and its reports. */
export interface ConnectionsHost {
  readonly clock: Clock
  readonly log: Logger
  readonly metrics: Registry
  emit(event: NodeEventBody): void
  /** The session, when it runs here. */
  hosted(id: string): HostedSession | undefined
  /** The cluster part, when the node is in one. */
  readonly role: ClusterRole | undefined
  /** What the registry says of a session ("open", "ended"), when it names it. */
  registered(id: string): string | undefined
  /** Whether the session applies nothing now: it is being handed over, or its node holds no majority's lease. */
  waiting(h: HostedSession): boolean
  /** The session changed: its players get a frame (once per turn, or per crowd window). */
  markDirty(h: HostedSession): void
  /** An action was applied (not a resend), in `seconds`, refused with `code` if it was. */
  applied(seconds: number, code?: string): void
}

interface LinkState {
  hosted?: HostedSession
  player?: PlayerId
  client?: string
  /** The session runs on another node: messages go there. */
  forward?: (msg: ClientMessage) => void
  /** Messages that arrived while the owner was being looked up. */
  queued?: ClientMessage[]
}

/** Actions a session keeps while it waits (a handoff, a lost lease); past it, players are asked to retry. */
const MAX_QUEUED = 10_000

/** A relayed join waits this many rounds (each until news of the session, at most 250 ms, after the relay's own look) for the owner to be reachable. */
const RELAY_JOIN_TRIES = 240

/**
 * A node's player connections: what each holds (a seat here, a relay to
 * the session's owner), and the player protocol's frames, validated
 * already, turned into joins, actions and leaves of the sessions here. The
 * frames back are the sessions' own (hosted.ts); this sends the answers
 * that are not a session's delta: joined, left, errors, notices.
 */
export class PlayerConnections {
  #links = new Map<PlayerLink, LinkState>()
  readonly #host: ConnectionsHost

  constructor(host: ConnectionsHost) {
    this.#host = host
  }

  /** Connections open (relayed ones included). */
  get size(): number {
    return this.#links.size
  }

  /** A player connection opened. */
  open(link: PlayerLink): void {
    this.#links.set(link, {})
  }

  /** A relayed player whose session came here: joined here, then what it sent meanwhile. */
  rejoinLocally(link: PlayerLink, join: Extract<ClientMessage, { t: "join" }>, then: ClientMessage[]): void {
    const st = this.#links.get(link)
    if (!st) return
    st.forward = undefined
    st.queued = undefined
    this.#join(link, st, join)
    for (const m of then) this.handle(link, m)
  }

  /** A player connection closed: the seat stays (the player may come back). */
  close(link: PlayerLink): void {
    const st = this.#links.get(link)
    this.#links.delete(link)
    st?.hosted?.detach(link)
    if (st?.forward || st?.queued) this.#host.role?.relayEnd(link)
  }

  /**
   * One validated protocol message from a player, here or relayed from a
   * peer. A throw (game code in a view, a bug of ours) ends this player's
   * link only: not the socket it shares with others, not the process.
   */
  handle(link: PlayerLink, msg: ClientMessage): void {
    try {
      this.#handle(link, msg)
    } catch (error) {
      const { errorId } = handlerFailures(this.#host)("player-frame", error)
      send(link, { t: "error", code: "internal", message: "internal error (logged on the node)", errorId })
      link.close(CloseCode.internalError, `internal error ${errorId}`)
    }
  }

  #handle(link: PlayerLink, msg: ClientMessage): void {
    const st = this.#links.get(link)
    if (!st) return
    // A ping asks whether this connection is alive, and this node is its other end: answered here, not by
    // the owner a relay forwards to (one out of reach would make the player give up a relay that works).
    if (msg.t === "ping") return send(link, { t: "pong", n: msg.n })
    if (st.forward) return st.forward(msg)
    if (st.queued) {
      // Waiting for a relay (the owner out of reach): the SDK sends nothing before "joined", so a flood is not a player.
      if (st.queued.length >= 256) return sendError(link, "rate_limited", "too many frames before the join completed", msg.t === "act" ? msg.id : msg.t === "leave" ? "leave" : undefined)
      return void st.queued.push(msg)
    }
    switch (msg.t) {
      case "join":
        return this.#join(link, st, msg)
      case "act":
        return this.#act(link, st, msg)
      case "leave":
        return this.#leave(link, st)
    }
  }

  #join(link: PlayerLink, st: LinkState, msg: Extract<ClientMessage, { t: "join" }>): void {
    if (st.hosted) return sendError(link, "already_joined", `this connection already holds a seat in session ${st.hosted.id}; send leave first`)
    const h = this.#host.hosted(msg.session)
    if (h && msg.leave) return this.#joinToLeave(link, h, msg, msg.player ?? "")
    if (h?.frozen) return void h.queued.push({ link, msg })
    if (!h && this.#host.role) return this.#relay(link, st, msg, this.#host.role)
    if (!h) return sendError(link, "unknown_session", `no session ${msg.session} on this node`, "join")
    const player = msg.player ?? ""
    const now = this.#host.clock.now()
    // Whoever is attached gets the pending delta first: a newcomer's full view starts after it.
    h.flush()
    const out = this.#hideGameError(h.join(player, now), h.id)
    if (!out.ok) return sendError(link, out.code, out.message, "join")
    st.hosted = h
    st.player = player
    st.client = msg.client
    const view = h.attach(link, player, msg.client)
    const r = h.session.record
    send(link, {
      t: "joined",
      session: h.id,
      game: r.game,
      player,
      seat: out.seat,
      view,
      rev: r.rev,
      // A client id is one player's: another player reusing it learns nothing of its owner (its acts are refused).
      seq: Object.hasOwn(r.clients, msg.client) && r.clients[msg.client]?.player === player ? h.session.appliedSeq(msg.client) : 0,
      status: r.status,
      result: r.result ?? undefined,
      nodes: this.#host.role?.cluster.ready().map((m) => m.url),
      ...(link.relayed && this.#host.role ? { owner: this.#host.role.cluster.self.url } : {}),
    })
    const notice = h.currentNotice
    if (notice) send(link, { t: "notice", ...notice })
    if (!out.rejoined) {
      this.#host.log.info("player joined", { session: h.id, player, seat: out.seat })
      this.#host.emit({ t: "player-joined", session: h.id, player, seat: out.seat })
    }
    this.#host.markDirty(h)
  }

  /** The session runs elsewhere: relay this player to its owner, for the player it is the same. */
  #relay(link: PlayerLink, st: LinkState, msg: Extract<ClientMessage, { t: "join" }>, role: ClusterRole, tries = 0): void {
    st.queued ??= []
    // A look that takes long (a peer that stopped answering costs a request timeout) is explained at once.
    let told = tries > 0
    const slow = tries === 0 ? this.#host.clock.setTimeout(() => {
      told = true
      send(link, { t: "notice", code: "owner_unreachable", message: `looking for the node running session ${msg.session}: it does not answer yet` })
    }, 500) : undefined
    role.relayJoin(link, msg).then(
      (forward) => {
        this.#host.clock.clearTimeout(slow)
        if (!this.#links.has(link)) return
        if (!forward) {
          // Known to the registry but nobody reachable runs it (a partition, a takeover waiting for a
          // majority): the player stays connected and is told why, and the join is tried again until
          // the owner answers, so play resumes the moment it does (a retry from the SDK would back off).
          if (this.#host.hosted(msg.session)) return this.#rejoin(link, st, msg, role, tries + 1)
          if (role.isLost(msg.session)) {
            st.queued = undefined
            return sendError(link, "session_lost", lostMessage(msg.session), "join")
          }
          if (this.#host.registered(msg.session) === "open" && tries < RELAY_JOIN_TRIES) {
            if (!told)
              send(link, { t: "notice", code: "owner_unreachable", message: `session ${msg.session} runs on a node this node cannot reach now: waiting for it, nothing is lost` })
            void role.news(msg.session, 250).then(() => this.#links.has(link) && this.#rejoin(link, st, msg, role, tries + 1))
            return
          }
          st.queued = undefined
          if (this.#host.registered(msg.session) === "open")
            return sendError(link, "unavailable", `session ${msg.session} runs on a node this node cannot reach now; retrying`, "join")
          return sendError(link, "unknown_session", `no session ${msg.session} in the cluster`, "join")
        }
        const queued = st.queued ?? []
        st.queued = undefined
        if (told) send(link, { t: "notice", code: "resolved", message: "the session's node answers again" })
        st.forward = forward
        for (const m of queued) forward(m)
      },
      (error) => {
        this.#host.clock.clearTimeout(slow)
        st.queued = undefined
        const e = clientError(error, this.#host, { session: msg.session, where: "relayed join" }, "unavailable", 503)
        sendError(link, e.code, `cannot reach the owner of ${msg.session}: ${e.message}`, "join")
      },
    )
  }

  /** A waiting relayed join, again: the session may run here by now (taken over while the player waited). */
  #rejoin(link: PlayerLink, st: LinkState, msg: Extract<ClientMessage, { t: "join" }>, role: ClusterRole, tries: number): void {
    if (!this.#host.hosted(msg.session)) return this.#relay(link, st, msg, role, tries)
    const queued = st.queued ?? []
    st.queued = undefined
    send(link, { t: "notice", code: "resolved", message: "the session runs on this node now" })
    this.#join(link, st, msg)
    for (const m of queued) this.handle(link, m)
  }

  #act(link: PlayerLink, st: LinkState, msg: Extract<ClientMessage, { t: "act" }>): void {
    const h = st.hosted
    if (!h || !st.player || !st.client) return sendError(link, "not_joined", "join a session before acting", msg.id)
    if (this.#waits(h, link, msg, msg.id)) return
    // The client's action before this one is not applied yet: its frame was lost on the way (a relay
    // cut, a rate limit) and comes again. Applied first, this one would make that resend look like a
    // repeat: answered, never applied. Refused unrecorded; the SDK sends its pending actions again, in order.
    if (msg.p !== undefined && msg.p >= msg.id) return sendError(link, "bad_request", "act: p must name an earlier action", msg.id)
    if (msg.p !== undefined && msg.p > h.session.appliedSeq(st.client)) {
      h.ack(link, { i: msg.id, ok: false, c: "out_of_order", m: `action ${msg.id} came before action ${msg.p}, which is not applied yet: send them in order` })
      return this.#host.markDirty(h)
    }
    const started = this.#host.clock.monotonic()
    const out = this.#hideGameError(h.act({ player: st.player, client: st.client, id: msg.id, name: msg.name, input: msg.input, now: this.#host.clock.now() }), h.id)
    // A resend answered from the ledger (after a reconnect or a move) is no new action.
    if (!out.duplicate) this.#host.applied((this.#host.clock.monotonic() - started) / 1000, out.ok ? undefined : out.code)
    h.ack(link, out.ok ? (out.value === undefined ? { i: msg.id, ok: true } : { i: msg.id, ok: true, v: out.value }) : { i: msg.id, ok: false, c: out.code, m: out.message })
    this.#host.markDirty(h)
  }

  /**
   * Whether the frame waits in the session's queue (it is being handed over, or
   * its node holds no majority's lease), or is refused because the queue is
   * full (`ref` names it); false: apply it now.
   */
  #waits(h: HostedSession, link: PlayerLink, msg: ClientMessage, ref: unknown): boolean {
    if (!this.#host.waiting(h)) return false
    if (h.queued.length >= MAX_QUEUED) sendError(link, "unavailable", `session ${h.id} is waiting (${h.currentNotice?.message ?? "moving"}); try again`, ref)
    else h.queued.push({ link, msg })
    return true
  }

  #leave(link: PlayerLink, st: LinkState): void {
    const h = st.hosted
    if (!h || !st.player) return sendError(link, "not_joined", "this connection holds no seat", "leave")
    // As for an action: a leave applied to a copy being handed over, or without the lease, would be lost.
    if (this.#waits(h, link, { t: "leave" }, "leave")) return
    h.flush()
    h.detach(link)
    const out = h.leave(st.player, this.#host.clock.now())
    if (!out.ok) return sendError(link, out.code, out.message, "leave")
    st.hosted = undefined
    this.#host.markDirty(h)
    this.#confirmLeft(link, h)
  }

  /**
   * A join that only wants the seat given up: the SDK's leave again, on a
   * connection that replaced the one it went on. Seating the player first
   * would run the game's onJoin and onLeave once more if the first leave was
   * applied and only its answer lost; a player not seated is told "left" at once.
   */
  #joinToLeave(link: PlayerLink, h: HostedSession, msg: Extract<ClientMessage, { t: "join" }>, player: string): void {
    // Only a seat still held needs the session to apply something: nothing else waits in its queue,
    // which is the seated players' (a client with no seat could otherwise fill it, again and again).
    if (h.session.seatOf(player) !== undefined) {
      if (this.#waits(h, link, msg, "join")) {
        // Told why nothing comes yet, as a join is: the SDK's patience starts again.
        const notice = h.currentNotice
        if (notice) send(link, { t: "notice", ...notice })
        return
      }
      h.flush()
      const out = this.#hideGameError(h.leave(player, this.#host.clock.now()), h.id)
      if (!out.ok) return sendError(link, out.code, out.message, "join")
      this.#host.markDirty(h)
    }
    this.#confirmLeft(link, h)
  }

  /**
   * "left" is an acknowledgement: under "replicated" it waits, like an
   * action's, until a replica holds the session as of now (a leave applied
   * earlier, whose answer was lost, included). Should the session leave this
   * node first, the link is told to reconnect (see linksOf): the SDK joins
   * where it runs then and asks again.
   */
  #confirmLeft(link: PlayerLink, h: HostedSession): void {
    const session = h.id
    h.leaving.add(link)
    void h
      .acknowledgeable(h.session.record.rev)
      .then(() => h.leaving.delete(link) && send(link, { t: "left", session }))
      .catch(() => {})
  }

  /** What game code threw is for the log: the player gets the code and an error id. */
  #hideGameError<T extends { ok: boolean; code?: string; message?: string }>(out: T, session: string): T {
    if (out.ok || out.code !== "game_error") return out
    const e = clientError(new Error(out.message), this.#host, { session, where: "game code" }, "game_error", 500)
    return { ...out, message: e.message }
  }

  /**
   * The connections of a session being sent away (released, collected):
   * they hold no seat here any more; the caller tells them why and closes them.
   */
  sendAway(h: HostedSession): PlayerLink[] {
    const links = linksOf(h, (l) => this.#links.get(l))
    for (const link of links) {
      const st = this.#links.get(link)
      if (st) st.hosted = undefined
    }
    return links
  }

  /** The node stops: every connection is told to reconnect (to `urls` first) and closed. */
  closeAll(reason: string, urls: string[] | undefined): void {
    for (const link of this.#links.keys()) {
      send(link, { t: "reconnect", reason, urls })
      link.close(CloseCode.goingAway, reason)
    }
    this.#links.clear()
  }
}

/**
 * A session's players being sent away: those attached, those whose join
 * waits in its queue (a join to a frozen session), which would otherwise
 * never be answered, and those whose leave waits for its "left"; not a link
 * that has gone or sits in another session meanwhile. Empties the queue: the SDK resends what was not acknowledged
 * wherever the session resumes.
 */
function linksOf(h: HostedSession, stateOf: (link: PlayerLink) => LinkState | undefined): PlayerLink[] {
  const links = new Set([...h.links.keys(), ...h.leaving])
  h.leaving.clear()
  for (const { link } of h.queued.splice(0)) {
    const st = stateOf(link)
    if (st && (st.hosted === undefined || st.hosted === h)) links.add(link)
  }
  return [...links]
}

export function send(link: PlayerLink, msg: ServerMessage): void {
  link.send(JSON.stringify(msg))
}

function sendError(link: PlayerLink, code: string, message: string, ref?: unknown): void {
  link.send(JSON.stringify({ t: "error", code, message, ref }))
}
