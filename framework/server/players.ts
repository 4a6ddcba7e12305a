import type { ServerWebSocket, WebSocketHandler } from "bun"
import type { BatonNode, PlayerLink } from "../node/index.ts"
import { CloseCode, MAX_FRAME_BYTES } from "../protocol/index.ts"
import { parseClientFrame } from "./player-protocol.ts"

export interface PlayerSocketData {
  kind: "player"
  link?: PlayerLink
  errors: number
}

/** Malformed frames tolerated per connection before it is closed as abusive. */
const MAX_PROTOCOL_ERRORS = 20

/** Bun WebSocket handlers for players: frames in, validated messages to the node, frames out. */
export function playerSockets(node: BatonNode, maxFrameBytes = MAX_FRAME_BYTES): Required<Pick<WebSocketHandler<PlayerSocketData>, "open" | "message" | "close">> {
  return {
    open(ws) {
      const link: PlayerLink = {
        send: (frame) => ws.send(frame) >= 0,
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
      const parsed = parseClientFrame(frame)
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
