import type { ServerWebSocket, WebSocketHandler } from "bun"
import type { BatonNode, PlayerLink } from "../node/index.ts"
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
}

/** Malformed frames tolerated per connection before it is closed as abusive. */
const MAX_PROTOCOL_ERRORS = 20

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
      if (!withinRate(ws.data, limits.framesPerSecond)) {
        // The refused frame is named (an act's id) so its sender can tell which one was dropped.
        const ref = /"id":(\d+)/.exec(frame)?.[1]
        ws.send(JSON.stringify({ t: "error", code: "rate_limited", message: `over ${limits.framesPerSecond} frames per second; slow down`, ref: ref ? Number(ref) : undefined }))
        // Abuse is ignoring the refusals: more of them within one second than twice the rate. A client
        // that slows down when told (the SDK resends 100-200 ms later) is refused a few times a second
        // at most, and a counter over the connection's whole life would close it after hours of play.
        const now = performance.now()
        if (ws.data.limitedSince === undefined || now - ws.data.limitedSince >= 1000) {
          ws.data.limitedSince = now
          ws.data.limited = 0
        }
        if ((ws.data.limited = (ws.data.limited ?? 0) + 1) > limits.framesPerSecond * 2) ws.close(CloseCode.protocolAbuse, "rate limit exceeded again and again")
        return
      }
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
    },
    close(ws) {
      if (ws.data.link) node.close(ws.data.link)
    },
  }
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
