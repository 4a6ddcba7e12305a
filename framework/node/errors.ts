import type { ErrorCode } from "../protocol/index.ts"

/** A refusal with a stable code (for programs) and a message (for people). */
export class BatonError extends Error {
  constructor(
    readonly code: ErrorCode | string,
    message: string,
    readonly status = 400,
  ) {
    super(message)
    this.name = "BatonError"
  }
}
