import * as v from "valibot"
import type { AnyGame, AnySchema, TimerContext } from "./define.ts"
import { explainIssues } from "./errors.ts"
import { jsonProblem } from "./plain.ts"
import type { TimerEntry } from "./record.ts"

/** A timer of a game as the runtime runs it: its handler and, when it declared one, its payload's schema. */
export interface TimerRuntime {
  name: string
  schema: AnySchema | undefined
  apply(ctx: TimerContext<unknown>): void
}

/** The game's timer `name`, or undefined when it has none (an own key only: names come from stored records). */
export function timerOf(game: AnyGame, name: string): TimerRuntime | undefined {
  const timers = game.timers as Record<string, unknown> | undefined
  if (!timers || !Object.hasOwn(timers, name)) return undefined
  const def = timers[name] as ((ctx: TimerContext<unknown>) => void) | { payload: AnySchema; apply(ctx: TimerContext<unknown>): void }
  if (typeof def === "function") return { name, schema: undefined, apply: def }
  return { name, schema: def.payload, apply: (ctx) => def.apply(ctx) }
}

/**
 * What a timer's entry stores for `payload`: plain JSON (null for none),
 * checked against the timer's schema. The stored form is what the schema
 * takes, so it is parsed again when the timer fires (a transform runs then)
 * and when the session is resumed under another version of the game.
 * Throws, naming the timer, when JSON cannot carry the payload or the schema
 * refuses it.
 */
export function storedPayload(timer: TimerRuntime, payload: unknown): unknown {
  const unfit = payload === undefined ? undefined : jsonProblem(payload, undefined, "payload")
  if (unfit) throw new Error(`timer "${timer.name}": ${unfit}`)
  const stored = payload === undefined ? null : JSON.parse(JSON.stringify(payload))
  const problem = payloadProblem(timer, stored)
  if (problem) throw new Error(`timer "${timer.name}": ${problem}`)
  return stored
}

/** The payload a handler gets: the stored one, parsed by the timer's schema when it has one. Throws when the schema refuses it. */
export function firedPayload(timer: TimerRuntime, stored: unknown): unknown {
  if (!timer.schema) return stored
  const parsed = parse(timer.schema, stored)
  if (!parsed.success) throw new Error(`timer "${timer.name}": the stored payload fails the timer's schema: ${explainIssues(parsed.issues)}`)
  return parsed.output
}

/**
 * Why the pending timers cannot run under this game, or undefined: a timer
 * whose schema refuses its stored payload (a game that changed a payload's
 * shape must bring its pending timers along in `migrate`). A timer whose
 * name the game no longer has is dropped when it is due, as before timers
 * had schemas.
 */
export function pendingTimersProblem(game: AnyGame, timers: readonly TimerEntry[]): string | undefined {
  for (const t of timers) {
    const timer = timerOf(game, t.name)
    const problem = timer && payloadProblem(timer, t.payload)
    if (problem) return `pending timer "${t.name}" (id ${t.id}): ${problem}`
  }
  return undefined
}

/**
 * The pending timers as a `migrate` step left them (`MigrateContext.timers`):
 * plain entries, each with a name, a finite time and a JSON payload; one
 * without a usable id gets the next one. Throws with what is wrong.
 */
export function migratedTimers(timers: unknown, nextTimerId: number): { timers: TimerEntry[]; nextTimerId: number } {
  if (!Array.isArray(timers)) throw new Error("ctx.timers must stay an array")
  const seen = new Set<number>()
  const out: TimerEntry[] = []
  for (const [i, t] of timers.entries()) {
    if (t === null || typeof t !== "object") throw new Error(`ctx.timers[${i}] is not a timer`)
    const { id, name, at, payload } = t as Partial<TimerEntry>
    if (typeof name !== "string" || name.length === 0) throw new Error(`ctx.timers[${i}].name must be a timer's name`)
    if (typeof at !== "number" || !Number.isFinite(at)) throw new Error(`ctx.timers[${i}].at must be a finite time`)
    const unfit = payload === undefined ? undefined : jsonProblem(payload, undefined, `ctx.timers[${i}].payload`)
    if (unfit) throw new Error(unfit)
    const usable = typeof id === "number" && Number.isSafeInteger(id) && id > 0 && id < nextTimerId && !seen.has(id)
    const kept = usable ? id : nextTimerId++
    seen.add(kept)
    out.push({ id: kept, name, at, payload: payload === undefined ? null : JSON.parse(JSON.stringify(payload)) })
  }
  return { timers: out, nextTimerId }
}

function payloadProblem(timer: TimerRuntime, stored: unknown): string | undefined {
  if (!timer.schema) return undefined
  const parsed = parse(timer.schema, stored)
  return parsed.success ? undefined : `the payload fails the timer's schema: ${explainIssues(parsed.issues)}`
}

/** Parses a stored payload; null stands for "none" (JSON has no undefined), so a schema that takes only undefined gets that. */
function parse(schema: AnySchema, stored: unknown) {
  const parsed = v.safeParse(schema, stored)
  if (parsed.success || stored !== null) return parsed
  const none = v.safeParse(schema, undefined)
  return none.success ? none : parsed
}
