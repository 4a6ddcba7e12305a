import { type ClientMessage, CloseCode, type PlayerLink } from "../protocol/index.ts"
import type { Cluster } from "./cluster.ts"
import type { NodePort } from "./port.ts"

type Join = Extract<ClientMessage, { t: "join" }>

interface Relayed {
  peer: string
  conn: string
  link: PlayerLink
  /** The join that opened it: replayed to the new owner when the session moves (as a join to leave once a leave went on). */
  join: Join
  /** Messages that arrive while the relay is being re-pointed. */
  pending?: ClientMessage[]
  /** The player was told the owner is not answering. */
  silent?: boolean
  /** Since when the owner owes an answer: to the join, or to an action in `acts`. */
  awaiting?: number
  /** Actions sent to the owner and not answered yet, by id: sent on to the next owner right after the join when the session moves. */
  acts?: Map<number, ClientMessage>
}

/** Whether an owner's frame answers what the relay waits for (read only when it waits: most frames are not parsed). */
function settle(r: Relayed, frame: string): void {
  // A join that only gives the seat up (the SDK's leave sent again) is answered with "left".
  if (frame.startsWith('{"t":"joined"') || frame.startsWith('{"t":"left"')) {
    // Actions re-sent after a move's join are still owed.
    if (!r.acts?.size) r.awaiting = undefined
    return
  }
  if (!r.acts?.size || !(frame.includes('"a":[') || frame.startsWith('{"t":"error"'))) return
  try {
    const msg = JSON.parse(frame) as { a?: { i: number }[]; ref?: unknown }
    for (const a of msg.a ?? []) r.acts.delete(a.i)
    if (typeof msg.ref === "number") r.acts.delete(msg.ref)
  } catch {
    return
  }
  if (r.acts.size === 0) r.awaiting = undefined
}

/** Unanswered actions a relay keeps to send on after a move (the SDK resends them anyway: this only saves time). */
const TRACKED_ACTS = 256

function track(r: Relayed, m: Extract<ClientMessage, { t: "act" }>): void {
  r.acts ??= new Map()
  if (r.acts.size < TRACKED_ACTS) r.acts.set(m.id, m)
}

/** A relay with no owner to point at looks again on news (the registry, a member up or down), or after this, ms. */
const RELOOK_MS = 250
/** A joining player's session may be between two owners: looked for this long before it is "unknown", ms. */
const JOIN_LOOK_MS = 1_000
/** A relay whose session left the registry gives up after this long, ms. */
const GONE_PATIENCE_MS = 3_000
/**
 * One whose session is still open waits this long for an owner (a takeover
 * waiting for a majority, a partition to heal) before the player is sent
 * away to reconnect, ms.
 */
const OPEN_PATIENCE_MS = 150_000
/** How long a session found lost is remembered (its players are told at once), ms. */
const LOST_REMEMBERED_MS = 10 * 60_000

/** What a player of a lost session is told. */
export function lostMessage(session: string): string {
  return `session ${session} is lost: the nodes that held it died and no other node has a copy (under "replicated" only a session never confirmed by a replica can be lost this way)`
}

/** How long a peer's word that it took a session over is used, ms. */
const OWNS_FRESH_MS = 5_000
/**
 * A relay whose owner is heard but has owed an answer this long is joined
 * again, ms: far past a replica's confirmation on a busy cluster, and well
 * inside the SDK's patience.
 */
const STUCK_MS = 5_000
/**
 * How long an end that came before its relay's open is remembered, ms: past
 * the 5 s a retired link stays open (Cluster's hello), and how many at most.
 */
const ENDED_EARLY_MS = 10_000
const ENDED_EARLY_MAX = 10_000
/** A player hears that its owner is unreachable within this of the relay losing it, ms. */
const NOTICE_AFTER_MS = 500

/**
 * Players connected to this node whose session runs on another: each
 * relayed to the owner over the control link, for the player the same as
 * being there; and the reverse, players relayed here. A relay follows its
 * session when it moves, and is joined again when the link under it is
 * lost (the client then resends what was not acknowledged).
 */
export class Relays {
  readonly #cluster: Cluster
  readonly #node: NodePort
  readonly #locate: (session: string) => Promise<string | undefined>
  /** Players here whose session runs elsewhere: conn id → where. */
  #outbound = new Map<string, Relayed>()
  #byLink = new Map<PlayerLink, Relayed>()
  /** Players elsewhere whose session runs here: "peer/conn" → their link, and the control link it came on. */
  #inbound = new Map<string, { link: PlayerLink; via: unknown }>()
  /** Relays whose end arrived before their open: "peer/conn" → when (see relay-end). */
  #endedEarly = new Map<string, number>()
  /** Re-pointing relays waiting for news of their session. */
  #waiting = new Map<string, Set<() => void>>()
  /** Sessions whose every copy is gone, and since when: their players are told so and let go. */
  #lost = new Map<string, number>()
  /** Sessions a peer said it took over, and when: a relay re-pointing one goes there without looking. */
  #owns = new Map<string, { peer: string; at: number }>()
  #ownsPrunedAt = 0

  constructor(cluster: Cluster, node: NodePort, locate: (session: string) => Promise<string | undefined>) {
    this.#cluster = cluster
    this.#node = node
    this.#locate = locate
    this.#receive()
    node.store.onEntriesChanged((ids) => {
      for (const id of ids) this.#wake(id)
    })
    const wakeAll = () => {
      for (const id of [...this.#waiting.keys()]) this.#wake(id)
    }
    cluster.on("node-up", wakeAll)
    cluster.on("node-down", (m) => {
      wakeAll()
      // A relay pointed at it after its link went (a word that it took the session over, older than its death) follows the session on.
      for (const r of [...this.#outbound.values()]) if (r.peer === m.id) void this.#repoint(r, `node ${m.id} is down`)
    })
    cluster.on("link-lost", (peer, link) => this.#linkLost(peer, link))
  }

  #rememberEnded(key: string): void {
    const now = this.#node.clock.now()
    // Oldest first: dropped once past a retired link's life, or beyond a bound (a peer's ends cost it nothing to send).
    for (const [k, at] of this.#endedEarly) {
      if (now - at < ENDED_EARLY_MS && this.#endedEarly.size < ENDED_EARLY_MAX) break
      this.#endedEarly.delete(k)
    }
    this.#endedEarly.set(key, now)
  }

  get outbound(): number {
    return this.#outbound.size
  }
  get inbound(): number {
    return this.#inbound.size
  }

  /** A player here joins a session that is not here: find its owner and relay. */
  async join(link: PlayerLink, msg: Join): Promise<((m: ClientMessage) => void) | undefined> {
    let owner = await this.#locate(msg.session)
    // A session in the middle of a move is briefly nowhere: look again on news before saying it does not exist.
    const deadline = this.#node.clock.now() + JOIN_LOOK_MS
    // It may come here, too (this node took it over): then the caller joins the player here. A session
    // this node's registry does not name yet may be a moment old (its entry still on its way): looked for too.
    const pending = () => (this.#node.store.entry(msg.session)?.status ?? "open") === "open"
    while (!owner && this.#node.clock.now() < deadline && pending() && !this.#node.hasSession(msg.session) && !this.#lost.has(msg.session)) {
      await this.news(msg.session, RELOOK_MS)
      owner = await this.#locate(msg.session)
    }
    if (!owner) return undefined
    const r: Relayed = { peer: owner, conn: crypto.randomUUID(), link, join: msg, awaiting: this.#node.clock.now() }
    this.#outbound.set(r.conn, r)
    this.#byLink.set(link, r)
    if (!this.#cluster.send(owner, "relay-open", { conn: r.conn, msg })) this.#openFailed(r, owner)
    return (m) => {
      const cur = this.#byLink.get(link)
      if (!cur) return
      if (cur.pending) cur.pending.push(m)
      else {
        if (m.t === "act") {
          track(cur, m)
          cur.awaiting ??= this.#node.clock.now()
        }
        // A leave sent on may be applied before the session moves: the join replayed then only gives the seat
        // up. A plain one would seat the player again (the game's onJoin), and the SDK would leave once more.
        if (m.t === "leave") cur.join = { ...cur.join, leave: true }
        this.#cluster.send(cur.peer, "relay-in", { conn: cur.conn, msg: m })
      }
    }
  }

  /** The player's connection here closed. */
  end(link: PlayerLink): void {
    const r = this.#byLink.get(link)
    if (!r) return
    this.#byLink.delete(link)
    this.#outbound.delete(r.conn)
    this.#cluster.send(r.peer, "relay-end", { conn: r.conn })
  }

  /**
   * Players relayed to an owner this node has not heard from for a while
   * (a partition, a stalled owner), or that has not answered what they sent
   * (a one-way cut: this node still hears the owner, the owner does not hear
   * it), are told so at once, and told again when it answers: their actions
   * are kept and resent, nothing is lost.
   */
  watch(): void {
    // A heartbeat late by a quarter second: the player hears of it within about half a second of a cut.
    const late = this.#cluster.heartbeatMs + 250
    const now = this.#node.clock.now()
    for (const r of [...this.#outbound.values()]) {
      if (r.awaiting !== undefined && now - r.awaiting > STUCK_MS && this.#cluster.member(r.peer)?.up && this.#cluster.silentMs(r.peer) <= late) {
        // The owner is heard but has not answered for long: the relay's other end may be gone without
        // this node hearing of it (its link was dropped and replaced while this node was frozen). Joined
        // again, with what is unanswered: the owner answers what it applied from its ledger.
        this.#cluster.send(r.peer, "relay-end", { conn: r.conn })
        void this.#repoint(r, `node ${r.peer} did not answer for ${now - r.awaiting} ms`, r.peer)
        continue
      }
      const unanswered = r.awaiting !== undefined && now - r.awaiting > late
      const silent = unanswered || this.#cluster.silentMs(r.peer) > late || this.#cluster.member(r.peer)?.up === false
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

  /** Resolves on news of the session (its registry entry changed, a member came or went, a peer took it over), or after `ms`. */
  news(session: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.#waiting.get(session)
      if (!set) this.#waiting.set(session, (set = new Set()))
      const done = () => {
        this.#node.clock.clearTimeout(timer)
        set.delete(done)
        if (set.size === 0) this.#waiting.delete(session)
        resolve()
      }
      const timer = this.#node.clock.setTimeout(done, ms)
      set.add(done)
    })
  }

  /** Every copy of the session is gone (this node or a peer found none): waiting players are told. */
  lost(session: string): void {
    const now = this.#node.clock.now()
    for (const [id, at] of this.#lost) if (now - at > LOST_REMEMBERED_MS) this.#lost.delete(id)
    this.#lost.set(session, now)
    this.#wake(session)
  }

  isLost(session: string): boolean {
    return this.#lost.has(session)
  }

  /** Who said it took the session over, if that was lately (older news may be stale: the session may have moved on). */
  #ownerSaid(session: string): string | undefined {
    const said = this.#owns.get(session)
    return said && this.#node.clock.now() - said.at < OWNS_FRESH_MS ? said.peer : undefined
  }

  #wake(session: string): void {
    for (const done of [...(this.#waiting.get(session) ?? [])]) done()
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
    // What it said it took over may be gone with it.
    for (const [id, said] of this.#owns) if (said.peer === peer) this.#owns.delete(id)
    // Only relays opened on the lost link: one opened meanwhile on its replacement stays.
    for (const [key, { link, via }] of this.#inbound)
      if (via === lost && key.startsWith(`${peer}/`)) {
        this.#inbound.delete(key)
        this.#node.close(link)
      }
    for (const r of [...this.#outbound.values()])
      if (r.peer === peer) {
        // A link replaced by a new one (see Cluster's hello): the owner may still hold this relay, so it is ended there.
        this.#cluster.send(peer, "relay-end", { conn: r.conn })
        void this.#repoint(r, `the link to node ${peer} was lost`)
      }
  }

  /**
   * The session moved: point the relay at its new owner and join again
   * there. The player sees a fresh "joined" (its SDK resends what was not
   * acknowledged) and no disconnect.
   */
  async #repoint(r: Relayed, reason: string, movedTo?: string): Promise<void> {
    this.#outbound.delete(r.conn)
    // Kept when an open that did not go out queued them (see openFailed).
    r.pending ??= []
    const clock = this.#node.clock
    const startedAt = clock.now()
    let owner: string | undefined
    let local = false
    // While the registry still has the session open, someone will run it (a takeover may wait for a
    // majority, a partition to heal): the player stays attached, told why, rather than sent away to retry.
    const patience = () => (this.#node.store.entry(r.join.session)?.status === "open" ? OPEN_PATIENCE_MS : GONE_PATIENCE_MS)
    // Told within half a second, however long each look takes (a peer that stopped answering costs a timeout).
    const told = clock.setTimeout(() => r.link.send(JSON.stringify({ t: "notice", code: "owner_unreachable", message: `no reachable node runs session ${r.join.session} now: waiting for it, nothing is lost` })), NOTICE_AFTER_MS)
    // A handoff names its target, and a new owner says so: no need to look then (each look is a round trip to busy peers).
    let named = movedTo
    while (!owner && !local && !this.#lost.has(r.join.session) && this.#byLink.get(r.link) === r && clock.now() - startedAt < patience()) {
      local = this.#node.hasSession(r.join.session)
      const said = named ?? this.#ownerSaid(r.join.session)
      named = undefined
      owner = local ? undefined : said && said !== this.#node.id && this.#cluster.member(said)?.up ? said : await this.#locate(r.join.session)
      if (!owner && !local) await this.news(r.join.session, RELOOK_MS)
    }
    clock.clearTimeout(told)
    if (this.#byLink.get(r.link) !== r) return
    if (this.#lost.has(r.join.session)) {
      this.#byLink.delete(r.link)
      r.link.send(JSON.stringify({ t: "error", code: "session_lost", message: lostMessage(r.join.session) }))
      return r.link.close(CloseCode.sessionLost, "every copy of the session is gone")
    }
    if (local) {
      this.#byLink.delete(r.link)
      return this.#node.rejoinLocally(r.link, r.join, [...(r.acts?.values() ?? []), ...r.pending.splice(0)])
    }
    if (!owner) {
      this.#byLink.delete(r.link)
      return r.link.close(4010, reason)
    }
    this.#node.log.info("relay re-pointed", { session: r.join.session, to: owner, waitedMs: clock.now() - startedAt })
    r.peer = owner
    r.conn = crypto.randomUUID()
    this.#outbound.set(r.conn, r)
    // The join is owed an answer too ("joined"); so is every action sent on.
    r.awaiting = clock.now()
    // What the old owner never answered goes right after the join, not after the player's SDK hears
    // "joined" and resends (four hops later); its resends are then answered from the ledger.
    if (!this.#cluster.send(owner, "relay-open", { conn: r.conn, msg: r.join })) return this.#openFailed(r, owner)
    for (const m of r.acts?.values() ?? []) this.#cluster.send(owner, "relay-in", { conn: r.conn, msg: m })
    for (const m of r.pending.splice(0)) {
      if (m.t === "act") track(r, m)
      this.#cluster.send(owner, "relay-in", { conn: r.conn, msg: m })
    }
    r.pending = undefined
  }

  /**
   * A relay's open did not go out: the owner is up but has no open link this
   * moment (one closed, its redial not done). What the player sends waits,
   * and the relay is re-pointed shortly, at that owner while it stays up.
   * Before, nothing sent it again and the player waited for STUCK_MS.
   */
  #openFailed(r: Relayed, owner: string): void {
    r.pending ??= []
    const conn = r.conn
    this.#node.clock.setTimeout(() => {
      if (this.#outbound.get(conn) === r) void this.#repoint(r, `no link to node ${owner} yet`, owner)
    }, RELOOK_MS)
  }

  /** Relayed players' frames, both ways. */
  #receive(): void {
    const c = this.#cluster
    c.receive("relay-open", (from, body, via) => {
      const key = `${from}/${body.conn}`
      // Its end came first (see relay-end): the relaying node has re-pointed it, nobody reads its answers.
      if (this.#endedEarly.delete(key)) return
      const link: PlayerLink = {
        relayed: true,
        send: (frame) => c.send(from, "relay-out", { conn: body.conn, frame }),
        close: (code, reason, movedTo) => {
          this.#inbound.delete(key)
          c.send(from, "relay-close", { conn: body.conn, code, reason, ...(movedTo ? { to: movedTo } : {}) })
        },
      }
      this.#inbound.set(key, { link, via })
      this.#node.open(link)
      this.#node.handle(link, body.msg)
    })
    c.receive("relay-in", (from, body) => {
      const link = this.#inbound.get(`${from}/${body.conn}`)?.link
      if (link) return this.#node.handle(link, body.msg)
      // A relay this node no longer knows (released when a link dropped): the relaying node re-points it.
      c.send(from, "relay-close", { conn: body.conn, code: 4010, reason: "relay unknown here" })
    })
    c.receive("owns", (from, body) => {
      const now = this.#node.clock.now()
      // Stale words are dropped once a while, not per message (a failover of many sessions sends one each).
      if (now - this.#ownsPrunedAt >= OWNS_FRESH_MS) {
        this.#ownsPrunedAt = now
        for (const [id, said] of this.#owns) if (now - said.at >= OWNS_FRESH_MS) this.#owns.delete(id)
      }
      for (const id of body.sessions) {
        this.#owns.set(id, { peer: from, at: now })
        this.#wake(id)
      }
    })
    c.receive("lost", (_from, body) => {
      for (const id of body.sessions) this.lost(id)
    })
    c.receive("relay-end", (from, body) => {
      const key = `${from}/${body.conn}`
      const link = this.#inbound.get(key)?.link
      this.#inbound.delete(key)
      if (link) return this.#node.close(link)
      // Not opened yet: a relay re-pointed when its link was replaced sends its end on the new link,
      // and its open, sent on the old one, may still be on its way. Remembered, so the open is ignored.
      this.#rememberEnded(key)
    })
    c.receive("relay-out", (_from, body) => {
      const out = this.#outbound.get(body.conn)
      if (!out) return
      if (out.awaiting !== undefined) settle(out, body.frame)
      out.link.send(body.frame)
    })
    c.receive("relay-close", (_from, body) => {
      const out = this.#outbound.get(body.conn)
      if (!out) return
      if (body.code === 4010) return void this.#repoint(out, body.reason, body.to)
      this.#outbound.delete(body.conn)
      this.#byLink.delete(out.link)
      out.link.close(body.code, body.reason)
    })
  }
}
