/** What a session is, as operators see it (GET /sessions, the dashboard) and as players looking for a game do (the public listing). */
export interface SessionSummary {
  id: string
  game: string
  status: "open" | "ended"
  players: { player: string; seat: number; connected: boolean }[]
  seated: number
  minPlayers: number
  maxPlayers: number
  createdAt: number
  activeAt: number
  rev: number
  result: unknown
}

/**
 * A session as anyone looking for a game sees it (GET /sessions?game=…): no
 * player ids, no document; `listing` is what the game's `publish(state)`
 * returns, when it has one.
 */
export interface OpenSession {
  id: string
  game: string
  status: "open" | "ended"
  minPlayers: number
  maxPlayers: number
  seated: number
  createdAt: number
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
