import type { Logger } from "../log/index.ts"
import type { OpenSession, SessionSummary } from "../protocol/index.ts"
import type { HostedSession } from "./hosted.ts"

/** Summaries of hosted sessions, in the shapes protocol/sessions.ts gives every side. */
/** Sessions one public listing names at most (oldest first: they have waited longest). */
export const LISTING_MAX = 100
/** The largest `publish(state)` answer shown, bytes of JSON. */
const LISTING_MAX_BYTES = 2048

export function publicView(h: HostedSession, log: Logger): OpenSession {
  const r = h.session.record
  const g = h.session.game
  const out: OpenSession = { id: r.id, game: r.game, status: r.status, minPlayers: g.players.min, maxPlayers: g.players.max, seated: r.players.length, createdAt: r.createdAt }
  if (!g.publish) return out
  try {
    const text = JSON.stringify(g.publish(r.state))
    if (text !== undefined && text.length <= LISTING_MAX_BYTES) out.listing = JSON.parse(text)
    else if (text !== undefined) log.warn("publish() answer too large, not listed", { session: r.id, bytes: text.length, max: LISTING_MAX_BYTES })
  } catch (error) {
    log.error("game code failed", { session: r.id, where: "publish", error })
  }
  return out
}

export function summarize(h: HostedSession): SessionSummary {
  const r = h.session.record
  const g = h.session.game
  return {
    id: r.id,
    game: r.game,
    status: r.status,
    players: r.players.map((s) => ({ player: s.player, seat: s.seat, connected: h.isConnected(s.player) })),
    seated: r.players.length,
    minPlayers: g.players.min,
    maxPlayers: g.players.max,
    createdAt: r.createdAt,
    activeAt: r.activeAt,
    rev: r.rev,
    result: r.result,
  }
}
