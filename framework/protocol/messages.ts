import type { PatchOp } from "./patch.ts"

/** Messages a player sends. Every frame is one JSON object with a `t` (type). */
export type ClientMessage =
  /**
   * Takes (or retakes) a seat. `client` is a random id of the SDK instance: action ids are counted per client.
   * `leave`: only give the seat up (a leave sent again on a new connection), answered with "left";
   * a node that does not know the flag seats the player, and the SDK sends the leave after "joined".
   */
  | { t: "join"; session: string; player?: string; client: string; token?: string; leave?: boolean }
  | { t: "act"; id: number; name: string; input?: unknown; p?: number }
  | { t: "leave" }
  | { t: "ping"; n?: number }

export type Ack = { i: number; ok: true; v?: unknown } | { i: number; ok: false; c: string; m: string }

export type GameEvent = { e: string; d?: unknown }

export type ServerMessage =
  | {
      t: "joined"
      session: string
      game: string
      player: string
      seat: number
      /** The player's whole view. */
      view: unknown
      rev: number
      /** Highest action id of this client the session has applied (resend only what is above). */
      seq: number
      status: SessionStatus
      result?: unknown
      /** The cluster's ready members, as the joined node lists them: where to reconnect if this node is lost. */
      nodes?: string[]
      /**
       * Set when the player was relayed here through another node: this node's address. The SDK
       * connects here directly when it can (one hop instead of three) and stays relayed when not.
       */
      owner?: string
    }
  /** A delta of the player's view (`d`), acks of its actions (`a`) and events (`e`), all as of `rev`. */
  | { t: "u"; rev: number; d?: PatchOp[]; a?: Ack[]; e?: GameEvent[]; status?: SessionStatus; result?: unknown }
  /** `errorId` (code "internal") names the node's log line that holds what went wrong. */
  | { t: "error"; code: ErrorCode; message: string; ref?: unknown; errorId?: string }
  | { t: "pong"; n?: number }
  /** The seat was given up; the connection may join another session. */
  | { t: "left"; session: string }
  /** The node is going away or the session moved: reconnect and resume, trying `urls` first. */
  | { t: "reconnect"; reason: string; urls?: string[] }
  /**
   * Why actions are not being answered (they are kept, and answered once it
   * passes), or "resolved" when it has passed. Sent within a second.
   */
  | { t: "notice"; code: NoticeCode; message: string }

export type SessionStatus = "open" | "ended"

/**
 * no_replica: no other node confirms the session's changes ("replicated" durability waits for one);
 * no_quorum: the owner cannot see a majority of the cluster (a partition) and may not acknowledge;
 * owner_unreachable: this node cannot reach the node running the session.
 */
export type NoticeCode = "no_replica" | "no_quorum" | "owner_unreachable" | "resolved"

/** Stable error codes, shared by the HTTP API, the player protocol and action rejections. */
export type ErrorCode =
  | "bad_json"
  | "bad_message"
  | "bad_request"
  | "invalid_id"
  | "unknown_message"
  | "unknown_game"
  | "unknown_session"
  | "unknown_action"
  | "invalid_input"
  | "invalid_options"
  | "not_joined"
  | "already_joined"
  | "not_seated"
  | "session_full"
  | "session_ended"
  | "game_error"
  | "unavailable"
  | "frame_too_large"
  | "not_found"
  | "unauthorized"
  | "internal"
  | "rate_limited"
  | "out_of_order"
  | "session_lost"

/** WebSocket close codes of the player protocol (4000-4999 are the application's). */
export const CloseCode = {
  /** Normal close by either side. */
  normal: 1000,
  /** The node is stopping: reconnect, possibly to another node, and resume. */
  goingAway: 1001,
  /** A binary frame: the protocol is JSON text. */
  unsupportedData: 1003,
  /** A frame over the size limit. */
  tooLarge: 1009,
  /** The node failed handling this connection's frame (logged with an error id): reconnect. */
  internalError: 1011,
  /** Too many malformed frames, or the rate limit exceeded again and again. */
  protocolAbuse: 4400,
  /** The client did not read its frames: too much was queued for it. */
  tooSlow: 4408,
  /** The upgrade's credentials were refused. */
  unauthorized: 4401,
  /** The session ended or was collected; do not reconnect. */
  sessionGone: 4404,
  /** Every copy of the session is gone (its nodes died with it): do not reconnect. */
  sessionLost: 4410,
  /** The node hands the session over: reconnect and resume (the SDK does it by itself). */
  reconnect: 4010,
} as const

/** Close codes after which the SDK reconnects by itself. */
export const RECONNECT_CODES: ReadonlySet<number> = new Set([1001, 1005, 1006, 1011, 1012, 1013, 4010])

/** Default limit of one player frame, in bytes. */
export const MAX_FRAME_BYTES = 64 * 1024
