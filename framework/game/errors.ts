import type * as v from "valibot"

/** Thrown by `reject(...)` inside game code; never escapes the runtime. */
export class Rejection extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** A session this game module cannot create or resume, and why. */
export class GameLoadError extends Error {
  /** Thrown by `Session.create` and `Session.resume`; the message says what to fix. */
  constructor(
    /**
     * Why: the options were refused, `setup` or its state failed
     * (`game_error`), the record is newer than the module, a `migrate` step
     * is missing or threw, the migrated state fails the schema, or a pending
     * timer's payload fails its timer's schema (`invalid_timer`).
     */
    readonly code: "invalid_options" | "game_error" | "version_too_new" | "no_migration" | "migration_failed" | "invalid_state" | "invalid_timer",
    message: string,
  ) {
    super(message)
    this.name = "GameLoadError"
  }
}

/** valibot issues as one line that names each field: `cell: Invalid value: Expected <=8 but received 9`. */
export function explainIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues
    .slice(0, 5)
    .map((issue) => {
      const path = issue.path?.map((p) => String(p.key)).join(".")
      return path ? `${path}: ${issue.message}` : issue.message
    })
    .join("; ")
}
