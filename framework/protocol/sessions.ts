/** What a session is, as operators see it (GET /sessions, the dashboard) and as players looking for a game do (the public listing). */
export interface SessionSummary {
  /** The session's id. */
  id: string
  /** The name of its game. */
  game: string
  /** "ended" once it ended: it stays readable a while (NodeConfig.lingerMs), then it is collected. */
  status: "open" | "ended"
  /** Seated players in seat order, each with whether it has a connection to the session now. */
  players: { player: string; seat: number; connected: boolean }[]
  /** How many players hold a seat. */
  seated: number
  /** The game's `players.min`. */
  minPlayers: number
  /** The game's `players.max`: no seat is free once `seated` reaches it. */
  maxPlayers: number
  /** Creation time, ms since the epoch. */
  createdAt: number
  /** Time of the last action, join or leave, ms since the epoch. */
  activeAt: number
  /** Grows with every change of the session. */
  rev: number
  /** What the game passed to `end(...)`; null while it runs. */
  result: unknown
}

/**
 * A session as anyone looking for a game sees it (GET /sessions?game=…): no
 * player ids, no document; `listing` is what the game's `publish(state)`
 * returns, when it has one.
 */
export interface OpenSession {
  /** The session's id: join it with this. */
  id: string
  /** The name of its game. */
  game: string
  /** "open" in a listing; "ended" once the game ended it. */
  status: "open" | "ended"
  /** The game's `players.min`. */
  minPlayers: number
  /** The game's `players.max`. */
  maxPlayers: number
  /** How many players hold a seat. */
  seated: number
  /** Creation time, ms since the epoch. */
  createdAt: number
  /** What the game's `publish(state)` returned; absent without `publish`, or when the answer is over 2 KiB of JSON. */
  listing?: unknown
}

/**
 * A peer's answer cut down to the public shape. An older node (mid-deploy)
 * ignores "public" and answers the operators' summary, player ids and all;
 * what reaches an anonymous client is decided here, not by the peer.
 */
export function asPublic(x: unknown): OpenSession | undefined {
  if (typeof x !== "object" || x === null) return undefined
  const o = x as Record<string, unknown>
  if (typeof o.id !== "string" || typeof o.game !== "string") return undefined
  const seated = typeof o.seated === "number" ? o.seated : Array.isArray(o.players) ? o.players.length : 0
  const out: OpenSession = {
    id: o.id,
    game: o.game,
    status: o.status === "ended" ? "ended" : "open",
    minPlayers: Number(o.minPlayers) || 0,
    maxPlayers: Number(o.maxPlayers) || 0,
    seated,
    createdAt: Number(o.createdAt) || 0,
  }
  if (o.listing !== undefined) out.listing = o.listing
  return out
}
