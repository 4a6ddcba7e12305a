/** The I/O edge a player is reached through (a WebSocket, or a relay from another node); the node never sees sockets. */
export interface PlayerLink {
  /** Sends one text frame; false when the frame could not be queued. */
  send(frame: string): boolean | void
  /** `movedTo`: the node the session moved to (a relayed player's relay re-points there at once); sockets ignore it. */
  close(code: number, reason: string, movedTo?: string): void
  /** The player reached this node through another one (a relay): its "joined" names this node, so the SDK can come here directly. */
  readonly relayed?: boolean
}
