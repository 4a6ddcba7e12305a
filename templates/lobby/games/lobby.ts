/**
 * The lobby: a session like any other, whose state is a queue. Players sit
 * in it and ask for a match; as soon as MATCH_SIZE players are queued, the
 * action that completed the group starts a duel for them with
 * `spawn("duel", options)` — created on this node right after the action
 * commits, its id known at once — and records the match in the state. Each
 * player's view shows their own match, and their page joins that session.
 *
 * The queue itself is hidden: a player sees how many are waiting and their
 * own place, not who the others are or where they were sent.
 */
import { defineGame, type PlayerId, v } from "batonjs"

/** Players per match. */
export const MATCH_SIZE = 2
/** Matches listed on the lobby's board. */
export const RECENT = 10

const Match = v.object({
  session: v.string(),
  players: v.array(v.string()),
  at: v.number(),
})

const State = v.object({
  queue: v.array(v.object({ player: v.string(), since: v.number() })),
  /** Each matched player's current match (until they queue again or leave). */
  matches: v.record(v.string(), Match),
  /** The latest matches, newest first. */
  recent: v.array(Match),
  /** Players seated in the lobby. */
  online: v.number(),
  made: v.number(),
})

export type LobbyState = v.InferOutput<typeof State>

export interface LobbyView {
  you: PlayerId
  queued: boolean
  /** Your place in the queue (1 is next), or null. */
  position: number | null
  /** How many are queued, you included. */
  waiting: number
  online: number
  /** Your match: the duel's session id, to join. */
  match: { session: string; opponents: PlayerId[] } | null
  recent: { players: PlayerId[]; at: number }[]
  made: number
}

export default defineGame({
  name: "lobby",
  version: 1,
  players: { min: 1, max: 500 },
  state: State,
  setup: (): LobbyState => ({ queue: [], matches: {}, recent: [], online: 0, made: 0 }),

  onJoin({ state }) {
    state.online++
  },

  onLeave({ state, player }) {
    state.online = Math.max(0, state.online - 1)
    state.queue = state.queue.filter((q) => q.player !== player)
    delete state.matches[player]
  },

  actions: {
    /** Asks for a match. Returns your place in the queue, or your match when it completed a group. */
    queue: {
      input: v.optional(v.object({})),
      apply({ state, player, now, spawn, emit, reject }) {
        if (state.queue.some((q) => q.player === player)) return reject("already_queued", "you are already in the queue")
        delete state.matches[player] // looking for a new match: the last one is over for you
        state.queue.push({ player, since: now })
        if (state.queue.length < MATCH_SIZE) return { position: state.queue.length }

        const players = state.queue.splice(0, MATCH_SIZE).map((q) => q.player)
        // The duel starts right after this action commits, on this node; its id is known now.
        const session = spawn("duel", { players })
        const match = { session, players, at: now }
        for (const p of players) state.matches[p] = { ...match, players: [...players] }
        state.recent.unshift({ ...match, players: [...players] })
        if (state.recent.length > RECENT) state.recent.splice(RECENT)
        state.made++
        emit("matched", { session, players }, players)
        return { session }
      },
    },

    /** Leaves the queue. */
    cancel: {
      input: v.optional(v.object({})),
      apply({ state, player, reject }) {
        const before = state.queue.length
        state.queue = state.queue.filter((q) => q.player !== player)
        if (state.queue.length === before) reject("not_queued", "you are not in the queue")
      },
    },
  },

  view(state, player): LobbyView {
    const at = state.queue.findIndex((q) => q.player === player)
    const match = state.matches[player]
    return {
      you: player,
      queued: at >= 0,
      position: at >= 0 ? at + 1 : null,
      waiting: state.queue.length,
      online: state.online,
      match: match ? { session: match.session, opponents: match.players.filter((p) => p !== player) } : null,
      recent: state.recent.map((m) => ({ players: m.players, at: m.at })),
      made: state.made,
    }
  },
})
