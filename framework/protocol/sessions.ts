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
