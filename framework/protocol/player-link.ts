/** The I/O edge a player is reached through (a WebSocket, or a relay from another node); the node never sees sockets. */
export interface PlayerLink {
  /** Sends one text frame; false when the frame could not be queued. */
  send(frame: string): boolean | void
  close(code: number, reason: string): void
}
