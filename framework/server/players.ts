import type { ServerWebSocket, WebSocketHandler } from "bun"
import { type BatonNode, handlerFailures, type PlayerLink } from "../node/index.ts"
import { CloseCode, MAX_FRAME_BYTES } from "../protocol/index.ts"
import { parseClientFrame } from "../protocol/index.ts"

export interface PlayerSocketData {
  kind: "player"
  link?: PlayerLink
  errors: number
  /** Set when the upgrade authenticated the connection: it may only ever be this player. */
  player?: string
  /** Set when authentication refused it: the connection is told so and closed. */
  refused?: string
  /** Token bucket of actions (refilled per second). */
  tokens?: number
  refilledAt?: number
  /** Frames refused for the rate since `limitedSince` (a window of a second). */
  limited?: number
  limitedSince?: number
  /** Frames over the rate held back (in order) until the bucket has a token for them, and their length. */
  held?: string[]
  heldChars?: number
}

/** Malformed frames tolerated per connection before it is closed as abusive. */
const MAX_PROTOCOL_ERRORS = 20
/**
 * Frames over the rate a connection may have waiting (a tenth of a second's worth, at least one), and
 * their bytes: a player a little over the rate (a burst of clicks, a benchmark's closed loop) is slowed
 * to it instead of refused and made to resend; one far over it is still refused, and closed if it goes on.
 */
const HELD_SECONDS = 0.1
const HELD_BYTES = 64 * 1024
/** The longest a timer may be armed for (setTimeout's limit). */
const MAX_TIMER_MS = 2 ** 31 - 1

export interface PlayerLimits {
  /** Frames per second a connection may send, sustained (a burst of twice this is allowed). Default 200. */
  framesPerSecond: number
  /** Bytes queued for a connection that does not read before it is dropped. Default 1 MiB. */
  maxBufferedBytes: number
}

export const DEFAULT_LIMITS: PlayerLimits = { framesPerSecond: 200, maxBufferedBytes: 1024 * 1024 }

/** Bun WebSocket handlers for players: frames in, validated messages to the node, frames out. */
export function playerSockets(
  node: BatonNode,
  maxFrameBytes = MAX_FRAME_BYTES,
  limits: PlayerLimits = DEFAULT_LIMITS,
): Required<Pick<WebSocketHandler<PlayerSocketData>, "open" | "message" | "close">> {
  if (!(limits.framesPerSecond > 0)) throw new Error(`limits.framesPerSecond must be a positive number of frames a second, got ${limits.framesPerSecond}`)
  /**
   * Connections with held frames (their data: `ws.data` is a call into the runtime), and one timer for
   * all of them (a timer per frame cost more than the frame). The timer wakes at most once per token's
   * worth of time: the frames it releases then arrive in one event-loop turn, and a session's players
   * get one frame for all of them instead of one per action.
   */
  const holding = new Map<ServerWebSocket<PlayerSocketData>, PlayerSocketData>()
  const releaseEveryMs = Math.min(1000, Math.max(1, Math.floor(1000 / limits.framesPerSecond)))
  let timer: ReturnType<typeof setTimeout> | undefined
  let timerAt = Number.POSITIVE_INFINITY
  const wakeIn = (ms: number) => {
    const delay = Math.min(MAX_TIMER_MS, Math.max(ms, releaseEveryMs))
    const at = performance.now() + delay
    if (timer !== undefined && timerAt <= at) return
    clearTimeout(timer)
    timerAt = at
    timer = setTimeout(releaseDue, delay)
  }

  return {
    open(ws) {
      if (ws.data.refused) {
        ws.send(JSON.stringify({ t: "error", code: "unauthorized", message: ws.data.refused, ref: "join" }))
        return ws.close(CloseCode.unauthorized, "unauthorized")
      }
      const link: PlayerLink = {
        send: (frame) => {
          const sent = ws.send(frame)
          // -1: queued behind what the client has not read yet. A client that does not read must
          // not hold memory (or its session) hostage: past the limit it is dropped.
          if (sent === -1 && ws.getBufferedAmount() > limits.maxBufferedBytes) {
            ws.close(CloseCode.tooSlow, "not reading: too much queued")
            return false
          }
          return sent !== 0
        },
        close: (code, reason) => ws.close(code, reason),
      }
      ws.data.link = link
      node.open(link)
    },
    message(ws, frame) {
      const link = ws.data.link
      if (!link) return
      if (typeof frame !== "string") return ws.close(CloseCode.unsupportedData, "frames must be JSON text")
      if (frame.length > maxFrameBytes) {
        ws.send(JSON.stringify({ t: "error", code: "frame_too_large", message: `frame of ${frame.length} bytes is over the ${maxFrameBytes}-byte limit` }))
        return ws.close(CloseCode.tooLarge, "frame too large")
      }
      // Frames already held go first: a frame never overtakes an earlier one.
      if (ws.data.held?.length || !withinRate(ws.data, limits.framesPerSecond)) return hold(ws, frame)
      receive(ws, link, frame)
    },
    close(ws) {
      holding.delete(ws)
      ws.data.held = undefined
      ws.data.heldChars = 0
      if (ws.data.link) node.close(ws.data.link)
    },
  }

  function receive(ws: ServerWebSocket<PlayerSocketData>, link: PlayerLink, frame: string): void {
    const parsed = parseClientFrame(frame)
    if (parsed.ok && parsed.msg.t === "join" && ws.data.player !== undefined) {
      // The upgrade said who this is; a join may not claim anybody else.
      if (parsed.msg.player !== ws.data.player) {
        ws.send(JSON.stringify({ t: "error", code: "unauthorized", message: `this connection is authenticated as ${ws.data.player}, not ${parsed.msg.player}`, ref: "join" }))
        return
      }
    }
    if (parsed.ok) return node.handle(link, parsed.msg)
    ws.send(JSON.stringify({ t: "error", code: parsed.code, message: parsed.message, ref: parsed.ref }))
    if (++ws.data.errors >= MAX_PROTOCOL_ERRORS) ws.close(CloseCode.protocolAbuse, "too many malformed frames")
  }

  /** A frame over the rate: held until a token is due, or refused when too much is held already. */
  function hold(ws: ServerWebSocket<PlayerSocketData>, frame: string): void {
    const d = ws.data
    const held = (d.held ??= [])
    const chars = (d.heldChars ?? 0) + frame.length
    if (held.length >= Math.max(1, limits.framesPerSecond * HELD_SECONDS) || chars > HELD_BYTES) return refuse(ws, frame)
    held.push(frame)
    d.heldChars = chars
    holding.set(ws, d)
    wakeIn(msToNextToken(d, limits.framesPerSecond))
  }

  /** Every connection's held frames whose tokens are due, in order; the rest wait for the next round. */
  function releaseDue(): void {
    timer = undefined
    timerAt = Number.POSITIVE_INFINITY
    let next = Number.POSITIVE_INFINITY
    for (const [ws, d] of holding) {
      const held = d.held
      if (!held || !d.link || ws.readyState !== 1) {
        holding.delete(ws)
        continue
      }
      // Runs outside the socket's handlers (a timer): a throw must end this connection, not the process.
      try {
        // A frame handled here can close the connection (its close handler drops `held`): the rest are dropped with it.
        while (held.length > 0 && d.held === held && withinRate(d, limits.framesPerSecond)) {
          const frame = held.shift() as string
          d.heldChars = (d.heldChars ?? 0) - frame.length
          receive(ws, d.link, frame)
        }
      } catch (error) {
        const { errorId } = handlerFailures(node)("player-message", error)
        holding.delete(ws)
        ws.close(CloseCode.internalError, `internal error ${errorId}`)
        continue
      }
      if (held.length === 0) holding.delete(ws)
      else next = Math.min(next, msToNextToken(d, limits.framesPerSecond))
    }
    if (next !== Number.POSITIVE_INFINITY) wakeIn(next)
  }

  function refuse(ws: ServerWebSocket<PlayerSocketData>, frame: string): void {
    // The refused frame is named (an act's id) so its sender can tell which one was dropped.
    const ref = /"id":(\d+)/.exec(frame)?.[1]
    // A leave is named too: the SDK sends it again until the node confirms it.
    const named = ref ? Number(ref) : frame.startsWith('{"t":"leave"') ? "leave" : undefined
    ws.send(JSON.stringify({ t: "error", code: "rate_limited", message: `over ${limits.framesPerSecond} frames per second; slow down`, ref: named }))
    // Abuse is ignoring the refusals: more of them within one second than twice the rate. A client
    // that slows down when told (the SDK resends 100-200 ms later) is refused a few times a second
    // at most, and a counter over the connection's whole life would close it after hours of play.
    const now = performance.now()
    if (ws.data.limitedSince === undefined || now - ws.data.limitedSince >= 1000) {
      ws.data.limitedSince = now
      ws.data.limited = 0
    }
    if ((ws.data.limited = (ws.data.limited ?? 0) + 1) > limits.framesPerSecond * 2) ws.close(CloseCode.protocolAbuse, "rate limit exceeded again and again")
  }
}

/** When the bucket next has a whole token, ms from now (at least 1). */
function msToNextToken(d: PlayerSocketData, perSecond: number): number {
  return Math.max(1, Math.ceil(((1 - (d.tokens ?? 0)) / perSecond) * 1000))
}

export type PlayerSocket = ServerWebSocket<PlayerSocketData>

function withinRate(d: PlayerSocketData, perSecond: number): boolean {
  const now = performance.now()
  const burst = perSecond * 2
  d.tokens = Math.min(burst, (d.tokens ?? burst) + ((now - (d.refilledAt ?? now)) / 1000) * perSecond)
  d.refilledAt = now
  if (d.tokens < 1) return false
  d.tokens -= 1
  return true
}
