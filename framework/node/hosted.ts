import type { ActRequest, Outcome, PlayerId, Session, Step } from "../game/index.ts"
import type { Timers } from "../cluster/index.ts"
import { type Ack, diff, type PlayerLink, type NoticeCode, type SessionStatus } from "../protocol/index.ts"

export type { PlayerLink }

interface Attached {
  player: PlayerId
  client: string
  acks: string[]
}

/**
 * A session running on this node with the players attached to it. Changes
 * are not sent as they happen: `flush` runs once per event-loop turn and
 * sends each player one frame with the delta of its view, its acks and its
 * events, so a burst of actions costs one frame per player.
 */
export class HostedSession {
  readonly links = new Map<PlayerLink, Attached>()
  /** Grows each time the session changes owner; a node that sees a higher one stops (fencing). */
  epoch = 1
  /** Being handed over: actions wait instead of being applied. */
  frozen = false
  readonly queued: { link: PlayerLink; msg: import("../protocol/index.ts").ClientMessage }[] = []
  /** Links whose leave was applied and whose "left" waits, like an ack, for a replica: told to reconnect if the session leaves first. */
  readonly leaving = new Set<PlayerLink>()
  /** Last view sent per player (games with `view`), or the last state sent to all. */
  #sentViews = new Map<PlayerId, unknown>()
  #sentShared: unknown
  #sentRev: number
  #sentStatus: SessionStatus
  #wake: unknown
  #wakeAt: number | null = null
  #checkpointedRev = 0
  /** The calls into the session that changed it since the last checkpoint: the checkpoint carries them (game/replay.ts). */
  #steps: Step[] = []
  /** "replicated" durability: acks wait here until a replica holds their revision. */
  holdAcks = false
  #held: { rev: number; link: PlayerLink; acks: string[]; at: number }[] = []

  #notice: NoticeCode = "resolved"
  #noticeMessage = ""

  /** Tells every player why their actions wait (once per change of reason), or that they no longer do. */
  notice(code: NoticeCode, message: string): void {
    if (code === this.#notice) return
    this.#notice = code
    this.#noticeMessage = message
    const frame = JSON.stringify({ t: "notice", code, message })
    for (const link of this.links.keys()) link.send(frame)
  }

  /** The notice in force (a player joining meanwhile is told it too). */
  get currentNotice(): { code: NoticeCode; message: string } | undefined {
    return this.#notice === "resolved" ? undefined : { code: this.#notice, message: this.#noticeMessage }
  }

  /** Players whose `view` threw in the last flush: the node reports them and closes their links. */
  readonly viewFailures: { player: PlayerId; error: unknown }[] = []

  constructor(
    readonly session: Session,
    readonly timers: Timers & { now(): number },
  ) {
    this.#sentRev = session.record.rev
    this.#sentStatus = session.record.status
    this.#sentShared = session.record.state
  }

  get id(): string {
    return this.session.id
  }

  attach(link: PlayerLink, player: PlayerId, client: string): unknown {
    this.links.set(link, { player, client, acks: [] })
    const view = this.session.view(player)
    if (this.session.game.view) this.#sentViews.set(player, view)
    return view
  }

  detach(link: PlayerLink): Attached | undefined {
    const a = this.links.get(link)
    if (!a) return undefined
    this.links.delete(link)
    if (![...this.links.values()].some((x) => x.player === a.player)) this.#sentViews.delete(a.player)
    return a
  }

  ack(link: PlayerLink, ack: Ack): void {
    this.links.get(link)?.acks.push(JSON.stringify(ack))
  }

  isConnected(player: PlayerId): boolean {
    for (const a of this.links.values()) if (a.player === player) return true
    return false
  }

  /** Sends what changed since the last flush. */
  flush(): void {
    const s = this.session
    const rec = s.record
    const events = s.takeEvents()
    const changed = rec.rev !== this.#sentRev
    const statusChanged = rec.status !== this.#sentStatus
    this.#sentRev = rec.rev
    this.#sentStatus = rec.status
    if (this.links.size === 0) {
      this.#sentShared = rec.state
      return
    }
    let shared: string | undefined
    const perPlayer = new Map<PlayerId, string | undefined>()
    if (changed) {
      if (!s.game.view) {
        const ops = diff(this.#sentShared, rec.state)
        shared = ops.length ? JSON.stringify(ops) : undefined
      } else {
        for (const a of this.links.values()) {
          if (perPlayer.has(a.player)) continue
          let view: unknown
          try {
            view = s.view(a.player)
          } catch (error) {
            // Game code failing for one player: the others still get their frames (the node closes this one's links).
            this.viewFailures.push({ player: a.player, error })
            perPlayer.set(a.player, undefined)
            continue
          }
          const ops = diff(this.#sentViews.get(a.player), view)
          this.#sentViews.set(a.player, view)
          perPlayer.set(a.player, ops.length ? JSON.stringify(ops) : undefined)
        }
      }
    }
    this.#sentShared = rec.state
    const status = statusChanged ? `,"status":${JSON.stringify(rec.status)},"result":${JSON.stringify(rec.result ?? null)}` : ""
    const eventJson = events.map((e) => ({ to: e.to, json: JSON.stringify({ e: e.event, d: e.data }) }))
    for (const [link, a] of this.links) {
      const d = s.game.view ? perPlayer.get(a.player) : shared
      const mine = eventJson.filter((e) => e.to === null || e.to.includes(a.player))
      let acks = a.acks
      if (this.holdAcks && acks.length) {
        this.#held.push({ rev: rec.rev, link, acks, at: this.timers.now() })
        acks = []
      }
      if (d === undefined && acks.length === 0 && mine.length === 0 && !status) {
        a.acks = []
        continue
      }
      let frame = `{"t":"u","rev":${rec.rev}`
      if (d !== undefined) frame += `,"d":${d}`
      if (acks.length) frame += `,"a":[${acks.join(",")}]`
      if (mine.length) frame += `,"e":[${mine.map((e) => e.json).join(",")}]`
      frame += `${status}}`
      a.acks = []
      link.send(frame)
    }
  }

  /** The newest revision whose acks went out (a replica, or the disk, holds it). */
  #releasedRev = 0
  #whenReleased: { rev: number; resolve(): void }[] = []

  /** Resolves once what `rev` holds may be acknowledged (see releaseAcks); at once when acks are not held. */
  acknowledgeable(rev: number): Promise<void> {
    if (!this.holdAcks || rev <= this.#releasedRev) return Promise.resolve()
    const { promise, resolve } = Promise.withResolvers<void>()
    this.#whenReleased.push({ rev, resolve })
    return promise
  }

  /** A replica holds everything up to `rev`: the acks of those actions can go out. */
  releaseAcks(rev: number): void {
    if (rev > this.#releasedRev) {
      this.#releasedRev = rev
      this.#whenReleased = this.#whenReleased.filter((w) => (w.rev <= rev ? void w.resolve() : true))
    }
    while (this.#held.length && (this.#held[0] as { rev: number }).rev <= rev) {
      const h = this.#held.shift() as { rev: number; link: PlayerLink; acks: string[]; at: number }
      if (this.links.has(h.link)) h.link.send(`{"t":"u","rev":${h.rev},"a":[${h.acks.join(",")}]}`)
    }
  }

  /** Acks still waiting for a replica (dropped when the session moves: the SDK resends, ids dedupe). */
  get heldAcks(): number {
    return this.#held.reduce((n, h) => n + h.acks.length, 0)
  }

  /** Something waits for a replica or the disk: held acks, or the creator of this new session. */
  get holding(): boolean {
    return this.#held.length > 0 || this.#whenReleased.length > 0
  }

  /** Since when the oldest held ack waits (undefined: none is held). */
  get oldestHeldAt(): number | undefined {
    return this.#held[0]?.at
  }

  #streamedRev = 0
  /** Whether the record changed since the last call (replicas are streamed only what changed). */
  changedSinceStream(): boolean {
    const rev = this.session.record.rev
    if (rev === this.#streamedRev) return false
    this.#streamedRev = rev
    return true
  }

  /** Seats a player (see Session.join), keeping the step when it changed the session. */
  join(player: PlayerId, now: number): ReturnType<Session["join"]> {
    const before = this.session.record.rev
    const out = this.session.join(player, now)
    this.#stepped(before, (rev) => ({ k: "join", at: now, rev, player }))
    return out
  }

  /** Frees a player's seat (see Session.leave), keeping the step. */
  leave(player: PlayerId, now: number): Outcome {
    const before = this.session.record.rev
    const out = this.session.leave(player, now)
    this.#stepped(before, (rev) => ({ k: "leave", at: now, rev, player }))
    return out
  }

  /** Applies an action (see Session.act), keeping it with its outcome when it changed the session (not a resend). */
  act(req: ActRequest): Outcome {
    const before = this.session.record.rev
    const out = this.session.act(req)
    this.#stepped(before, (rev) => ({
      k: "act",
      at: req.now,
      rev,
      player: req.player,
      client: req.client,
      id: req.id,
      name: req.name,
      input: req.input,
      ...(out.ok ? { ok: true, ...(out.value === undefined ? {} : { value: out.value }) } : { ok: false, code: out.code }),
    }))
    return out
  }

  /** Runs what is due (see Session.advance), keeping which timers fired and how far the tick clock moved. */
  advance(now: number): void {
    // The session replaces its record when it changes: `r` keeps the timers as they were before.
    const r = this.session.record
    this.session.advance(now)
    this.#stepped(r.rev, (rev) => {
      const after = this.session.record
      const left = new Set(after.timers.map((t) => t.id))
      const timers = r.timers.filter((t) => t.at <= now && !left.has(t.id)).map((t) => t.name)
      const hz = this.session.game.tick?.hz ?? 0
      const ticks = r.tickAt !== null && after.tickAt !== null ? Math.round(((after.tickAt - r.tickAt) * hz) / 1000) : 0
      return { k: "advance", at: now, rev, ...(timers.length ? { timers } : {}), ...(ticks > 0 ? { ticks } : {}) }
    })
  }

  /** Ends the session from outside the game (see Session.end), keeping the step. */
  end(result: unknown, now: number): void {
    const before = this.session.record.rev
    this.session.end(result, now)
    this.#stepped(before, (rev) => ({ k: "end", at: now, rev, result }))
  }

  #stepped(before: number, step: (rev: number) => Step): void {
    const rev = this.session.record.rev
    if (rev !== before) this.#steps.push(step(rev))
  }

  /** The steps since the last call (they go with the checkpoint of the record they led to). */
  takeSteps(): Step[] {
    const out = this.#steps
    this.#steps = []
    return out
  }

  /** The steps not taken yet (the inspector shows them). */
  get pendingSteps(): readonly Step[] {
    return this.#steps
  }

  /** The newest revision whose acks may have gone out: held acks wait above it. */
  get acknowledgedRev(): number {
    return this.holdAcks ? this.#releasedRev : this.session.record.rev
  }

  /** The record when it changed since the last checkpoint. */
  takeCheckpoint(): Session["record"] | undefined {
    const rec = this.session.record
    if (rec.rev === this.#checkpointedRev) return undefined
    this.#checkpointedRev = rec.rev
    return rec
  }

  /** Arms one timer for the session's next timer or tick. */
  schedule(now: number, fire: () => void): void {
    const at = this.session.nextWakeAt()
    if (at === this.#wakeAt) return
    this.timers.clearTimeout(this.#wake)
    this.#wakeAt = at
    this.#wake = at === null ? undefined : this.timers.setTimeout(() => {
      this.#wakeAt = null
      fire()
    }, Math.max(0, at - now))
  }

  stop(): void {
    this.timers.clearTimeout(this.#wake)
    this.#wake = undefined
    this.#wakeAt = null
  }
}
