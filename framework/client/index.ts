/**
 * batonjs/client: the typed SDK for browsers and Bun. Import the game module
 * as a type only, so no server code reaches the browser:
 *
 *   import type tictactoe from "./games/tictactoe.ts"
 *   const s = await join<typeof tictactoe>({ session: id, player: "ada" })
 *   await s.act("place", { cell: 4 })
 */
import type { AnyGame } from "../game/define.ts"
import type { OpenSession, SessionSummary } from "../protocol/index.ts"
import { ActionError, GameSession, type JoinOptions } from "./session.ts"

export { ActionError, type ActionPromise, GameSession, type ConnectionStatus, type JoinOptions, type Notice } from "./session.ts"
export type { ActionNames, InputOf, ResultOf, ViewOf, StateOf } from "../game/define.ts"

/** Takes a seat in a session; resolves with the live session once the first view has arrived. */
export function join<G extends AnyGame = AnyGame>(opts: JoinOptions): Promise<GameSession<G>> {
  return new GameSession<G>(opts).start()
}

/** A session's summary (POST /sessions, GET /sessions/:id with the admin token). */
export type SessionInfo = SessionSummary
export type { OpenSession }

/**
 * Creates a session of `game` (POST /sessions). `token`: the player's token,
 * when the node authenticates players (creating then needs one).
 */
export async function createSession(opts: { url?: string; game: string; options?: unknown; token?: string }): Promise<SessionInfo> {
  const headers: Record<string, string> = { "content-type": "application/json" }
  if (opts.token) headers.authorization = `Bearer ${opts.token}`
  return request<SessionInfo>(opts.url, "/sessions", { method: "POST", headers, body: JSON.stringify({ game: opts.game, options: opts.options }) })
}

/** The open sessions of `game` with a seat free, oldest first (GET /sessions?game=…: public). */
export async function listSessions(opts: { url?: string; game: string }): Promise<OpenSession[]> {
  return (await request<{ sessions: OpenSession[] }>(opts.url, `/sessions?game=${encodeURIComponent(opts.game)}`)).sessions
}

/** A game the node serves (GET /games). */
export interface GameInfo {
  /** What sessions are created by (`createSession({ game })`). */
  name: string
  /** Its state's schema version. */
  version: number
  /** Seats per session. */
  players: { min: number; max: number }
  /** It ticks (a real-time game). */
  realtime: boolean
}

/** The games the node serves (GET /games: public). */
export async function listGames(opts: { url?: string } = {}): Promise<GameInfo[]> {
  return (await request<{ games: GameInfo[] }>(opts.url, "/games")).games
}

async function request<T>(base: string | undefined, path: string, init?: RequestInit): Promise<T> {
  const origin = base ?? (typeof location !== "undefined" ? location.origin : undefined)
  if (!origin) throw new ActionError("bad_request", "url is required outside a browser")
  const res = await fetch(new URL(path, origin), init)
  const body = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } }
  if (!res.ok) throw new ActionError(body.error?.code ?? "http_error", body.error?.message ?? `HTTP ${res.status}`)
  return body as T
}
