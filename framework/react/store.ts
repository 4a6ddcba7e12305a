import { ActionError, type ConnectionStatus, GameSession, type JoinOptions, type Notice } from "../client/index.ts"
import type { AnyGame, ViewOf } from "../game/define.ts"

/** What `useSession` takes: `join`'s options, and how many events to keep. */
export interface SessionOptions extends JoinOptions {
  /** How many of the latest game events `events` holds (default 50). */
  keepEvents?: number
}

/** A game event (`ctx.emit(name, data)`) as `useSession` keeps it. */
export interface SessionEvent {
  /** The event's name. */
  name: string
  /** What the game sent with it (events are not typed by the game module). */
  data: unknown
  /** Counts up from 1 per connection: a stable React key, and a way to tell a new event from one already handled. */
  seq: number
}

/**
 * What `useSession` returns: one immutable snapshot of the session as this
 * player sees it, a new object when anything in it changed (and the same one
 * otherwise), plus `act` and `leave`.
 */
export interface SessionSnapshot<G extends AnyGame = AnyGame> {
  /** This player's view, typed from the game module; undefined until the first view arrived. The client's own object: parts that did not change keep their identity. */
  state: ViewOf<G> | undefined
  /** The connection: "connecting", "open", "reconnecting" (actions wait and are resent) or "closed". */
  status: ConnectionStatus
  /** This player's seat, from 0 (-1 until seated). */
  seat: number
  /** The session ended; actions are refused from then on. */
  ended: boolean
  /** What the game passed to `end(...)`, once it ended. */
  result: unknown
  /** Why actions wait right now (a partition, no replica), or null: show it to the player. */
  notice: Notice | null
  /** Why the connection closed for good (the join was refused, the session is gone or lost), or null. */
  error: ActionError | null
  /** The latest game events, oldest first (`keepEvents` of them at most). */
  events: readonly SessionEvent[]
  /** Sends an action: typed as `GameSession.act`, it resolves to the action's result. The same function for as long as the options name the same seat. */
  act: GameSession<G>["act"]
  /** Gives the seat up and closes (the game's `onLeave` runs); see `GameSession.leave` for when it resolves or rejects. Unmounting does not cut it short (a leave started on `session` directly is). */
  leave(): Promise<void>
  /** The client's session object, for what the snapshot does not carry (`on`, `pendingCount`); null while not connected. */
  session: GameSession<G> | null
}

/** Which options name another seat (a change of any of these opens a new connection); the others are read when connecting. */
export function seatKey(opts: SessionOptions | null): string {
  return opts ? JSON.stringify([opts.session, opts.player, opts.url ?? null, opts.urls ?? []]) : ""
}

/**
 * Leaves not confirmed yet, by seat (session and player, whatever the
 * address): a component mounted again for that seat meanwhile joins once
 * the leave is over. Joined first, it would be seated again and then lose
 * the seat to the leave, connected and seatless.
 */
const leavesInFlight = new Map<string, Promise<void>>()
const seatOf = (opts: SessionOptions): string => JSON.stringify([opts.session, opts.player])

/**
 * One seat's connection as an external store for React's
 * `useSyncExternalStore`, with no React in it: the connection opens with the
 * first subscriber and closes once the last one is gone (a microtask later,
 * so StrictMode's unmount and remount in one go keep the one connection).
 */
export class SessionStore<G extends AnyGame = AnyGame> {
  readonly key: string
  #opts: SessionOptions | null
  #session: GameSession<G> | null = null
  #unhook: (() => void) | undefined
  #listeners = new Set<() => void>()
  #events: SessionEvent[] = []
  #seq = 0
  #snapshot: SessionSnapshot<G>

  /** `null` options: no session (yet): the store stays closed and opens nothing. */
  constructor(opts: SessionOptions | null) {
    this.key = seatKey(opts)
    this.#opts = opts
    this.#snapshot = this.#snap(opts ? "connecting" : "closed", null)
  }

  /** For useSyncExternalStore: `fn` is called after every change. The first subscriber opens the connection. */
  readonly subscribe = (fn: () => void): (() => void) => {
    this.#listeners.add(fn)
    if (!this.#session && !this.#unhook) this.#open()
    return () => {
      this.#listeners.delete(fn)
      if (this.#listeners.size === 0) queueMicrotask(() => this.#listeners.size === 0 && this.#close())
    }
  }

  /** For useSyncExternalStore: the current snapshot (the same object until something changes). */
  readonly getSnapshot = (): SessionSnapshot<G> => this.#snapshot

  readonly act = ((name: string, ...input: unknown[]) => {
    if (this.#session) return this.#session.act(name as never, ...(input as [never]))
    return Object.assign(Promise.reject(new ActionError("closed", "not connected to the session")), { id: 0 })
  }) as GameSession<G>["act"]

  readonly leave = async (): Promise<void> => {
    const s = this.#session
    if (!s) throw new ActionError("closed", "not connected to the session; the seat may still be taken")
    // Still waiting for another leave of this seat before it joins: it holds nothing to give up.
    if (this.#unstarted.has(s)) return s.close()
    const left = s.leave()
    this.#leaving.add(s)
    const seat = this.#opts ? seatOf(this.#opts) : ""
    const over = left.then(
      () => {},
      () => {},
    )
    leavesInFlight.set(seat, over)
    try {
      await left
    } finally {
      this.#leaving.delete(s)
      if (leavesInFlight.get(seat) === over) leavesInFlight.delete(seat)
    }
  }

  /** Sessions whose leave is not confirmed yet: an unmount leaves them to finish it (the session closes itself then). */
  #leaving = new WeakSet<GameSession<G>>()
  /** Sessions not started yet: they wait for a leave of their seat in flight (see `leavesInFlight`). */
  #unstarted = new WeakSet<GameSession<G>>()

  #open(): void {
    if (!this.#opts) return
    this.#events = []
    let s: GameSession<G>
    try {
      s = new GameSession<G>(this.#opts)
    } catch (error) {
      this.#set(this.#snap("closed", error instanceof ActionError ? error : new ActionError("bad_request", String(error))))
      return
    }
    this.#session = s
    const keep = Math.max(0, this.#opts.keepEvents ?? 50)
    const changed = () => this.#set(this.#snap(s.status, s.error, s))
    const offs = [
      s.subscribe(changed),
      s.onStatus(changed),
      s.onNotice(changed),
      s.onEnd(changed),
      s.on("*", (data, name) => {
        this.#events = [...this.#events, { name, data, seq: ++this.#seq }].slice(-keep)
        changed()
      }),
    ]
    this.#unhook = () => {
      for (const off of offs) off()
      // A component that calls leave() and unmounts at once must not cut the leave short: the seat would stay taken.
      if (!this.#leaving.has(s)) s.close()
    }
    // A refused join closes the session (its error says why) and status listeners are told: nothing to do here.
    const start = () => {
      this.#unstarted.delete(s)
      if (this.#session === s && s.status !== "closed") s.start().catch(() => {})
    }
    const before = leavesInFlight.get(seatOf(this.#opts))
    if (before) {
      this.#unstarted.add(s)
      void before.then(start)
    } else start()
    changed()
  }

  #close(): void {
    this.#unhook?.()
    this.#unhook = undefined
    this.#session = null
  }

  #snap(status: ConnectionStatus, error: ActionError | null, s?: GameSession<G>): SessionSnapshot<G> {
    return {
      state: s?.state,
      status,
      seat: s?.seat ?? -1,
      ended: s?.ended ?? false,
      result: s?.result,
      notice: s?.notice ?? null,
      error,
      events: this.#events,
      act: this.act,
      leave: this.leave,
      session: s ?? null,
    }
  }

  #set(next: SessionSnapshot<G>): void {
    this.#snapshot = next
    for (const fn of this.#listeners) fn()
  }
}
