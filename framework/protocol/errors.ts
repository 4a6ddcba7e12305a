import type { ErrorCode } from "./messages.ts"
import type { Logger } from "../log/index.ts"
import { errorText, type NodeEventBody } from "./events.ts"

/** Where a failure goes: the node's log, for people, and its events. */
export interface FailureSink {
  readonly log: Logger
  emit(event: NodeEventBody): void
}

/**
 * A refusal with a stable code (for programs) and a message (for people).
 * Its message is written for the client: Baton raises these on purpose.
 * Anything else thrown (a bug, a library's TypeError, text thrown by game
 * code) is an exception and goes through `clientError` before a client sees it.
 */
export class BatonError extends Error {
  /** Raised by the framework, and by an app's hooks to refuse with a code of its own. */
  constructor(
    /** Stable, for programs: one of ErrorCode (`unknown_session`, `rate_limited`...) or an app's own. */
    readonly code: ErrorCode | string,
    message: string,
    /** The HTTP status an HTTP request is answered with (default 400). */
    readonly status = 400,
    /** Names the log line that holds the full text, when the message hides it. */
    readonly errorId?: string,
  ) {
    super(message)
    this.name = "BatonError"
  }
}

/**
 * What a client may be told of `error`: a BatonError as it is; anything else
 * as `code` with a generic message and an error id, the full text logged
 * (and raised as a "request-failed" event) under the same id, so an
 * operator finds it from what the player reports.
 */
export function clientError(
  error: unknown,
  sink: FailureSink,
  context: { where: string; session?: string } & Record<string, unknown>,
  code = "internal",
  status = 500,
): BatonError {
  if (error instanceof BatonError) return error
  const errorId = newErrorId()
  sink.log.error("request failed", { ...context, errorId, error })
  sink.emit({ t: "request-failed", errorId, where: context.where, ...(context.session ? { session: context.session } : {}), error: errorText(error) })
  return new BatonError(code, `${code === "internal" ? "internal error" : code.replace(/_/g, " ")} (error id ${errorId}, logged on the node)`, status, errorId)
}

export function newErrorId(): string {
  return `e-${crypto.randomUUID().slice(0, 13)}`
}
