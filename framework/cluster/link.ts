/**
 * One ordered, message-framed connection between two nodes: a WebSocket in
 * production (bun-links.ts), a simulated one in the simulator. Control
 * frames are text, sync frames are bytes. Everything above this file (the
 * control protocol, the automerge-repo sync adapter) is written against it,
 * so the same code runs over real sockets and over the simulated network.
 */
export interface Link {
  /** Queues a frame; false when the link dropped it (closed, or over its buffer). */
  send(data: string | Uint8Array): boolean
  close(code?: number, reason?: string): void
  readonly open: boolean
  /** A transport-level keep-alive probe; the other end answers with a pong (LinkHandlers.pong). */
  ping?(): void
}

/** What a link reports, set once by whoever reads it. */
export interface LinkHandlers {
  message(data: string | Uint8Array): void
  close(code: number, reason: string): void
  pong?(): void
}

/** A link a peer dialled to us: whoever takes it (the control protocol, the sync adapter) sets its reader. */
export interface AcceptedLink extends Link {
  handlers?: LinkHandlers
}
