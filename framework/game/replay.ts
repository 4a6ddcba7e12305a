import * as v from "valibot"
import type { AnyGame, PlayerId } from "./define.ts"
import { explainIssues } from "./errors.ts"
import { safeId } from "./ids.ts"
import type { SessionRecord } from "./record.ts"

/**
 * One call into a session that changed it, as a node records it in the
 * session's document (each checkpoint carries the steps since the one
 * before): replaying the steps in order on the record they started from
 * gives the same record, because the runtime is pure (the time of each step
 * is in it, the random source's position is in the record). `rev` is the
 * record's revision after the step.
 */
export type Step = v.InferOutput<typeof stepSchema>

const time = v.pipe(v.number(), v.finite())
const count = v.pipe(v.number(), v.safeInteger(), v.minValue(0))
const rev = v.pipe(v.number(), v.safeInteger(), v.minValue(1))
/** A session id: generated, or derived from its parent's (`<id>-<n>`) when spawned, so longer than a player id may be. */
const sessionId = v.pipe(v.string(), v.minLength(1), v.maxLength(256))
const gameName = v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "is not a game's name"))

const stepSchema = v.variant("k", [
  v.object({ k: v.literal("join"), at: time, rev, player: safeId }),
  v.object({ k: v.literal("leave"), at: time, rev, player: safeId }),
  v.object({
    k: v.literal("act"),
    at: time,
    rev,
    player: safeId,
    client: safeId,
    id: rev,
    name: v.pipe(v.string(), v.maxLength(256)),
    input: v.optional(v.unknown()),
    /** What the player was answered: ok with `value`, or refused with `code`. */
    ok: v.boolean(),
    value: v.optional(v.unknown()),
    code: v.optional(v.string()),
  }),
  /** Timers and ticks due by `at` ran (which timers and how many ticks: for people; replaying needs only `at`). */
  v.object({ k: v.literal("advance"), at: time, rev, timers: v.optional(v.array(v.string())), ticks: v.optional(count) }),
  /** Ended from outside the game (idle, an operator). */
  v.object({ k: v.literal("end"), at: time, rev, result: v.optional(v.unknown()) }),
])

const ledgerResult = v.union([v.tuple([rev, v.literal(true), v.unknown()]), v.tuple([rev, v.literal(false), v.string(), v.string()])])
const u32 = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0xffffffff))

/** A session record as a file carries it: every field the runtime reads is checked; the state by the game's own schema when it resumes. */
const recordSchema = v.object({
  id: sessionId,
  game: gameName,
  version: rev,
  status: v.picklist(["open", "ended"]),
  // Checked by the game's own schema when the record resumes; typed loosely so that a test can hold a
  // replayed session's typed record against it (`expect(s.record).toEqual(file.end)`).
  state: v.any(),
  players: v.array(v.object({ player: safeId, seat: count, joinedAt: time })),
  timers: v.array(v.object({ id: rev, name: v.string(), at: time, payload: v.optional(v.unknown(), null) })),
  nextTimerId: rev,
  spawned: v.optional(count),
  rng: v.tuple([u32, u32, u32, u32]),
  tickAt: v.nullable(time),
  // Keys that name a prototype are refused by safeId (valibot drops "__proto__" before that).
  clients: v.record(safeId, v.object({ player: safeId, seq: count, at: time, results: v.array(ledgerResult) })),
  result: v.optional(v.unknown(), null),
  createdAt: time,
  activeAt: time,
  endedAt: v.nullable(time),
  rev,
})

/** The current format of a history file (`format`, `version`): what `Session.replay` reads. */
export const REPLAY_FORMAT = "baton-replay"
export const REPLAY_VERSION = 1

const replayFileSchema = v.object({
  format: v.literal(REPLAY_FORMAT),
  version: v.literal(REPLAY_VERSION),
  /** The game's name, and the version of its state when the history starts. */
  game: gameName,
  session: sessionId,
  /** When it was exported (ms since the epoch), and where from. */
  exportedAt: time,
  source: v.optional(v.object({ node: v.string(), copy: v.picklist(["owner", "replica"]) })),
  /** The record the steps start from: the session as created, or as it was at the oldest checkpoint its document still holds. */
  start: recordSchema,
  steps: v.pipe(v.array(stepSchema), v.maxLength(1_000_000)),
  /** The record after the last step, as it was live: a replay under the same game code ends equal to it. */
  end: recordSchema,
})

/**
 * A session's history as a file: the record it starts from and the steps
 * that lead from it to `end`. `GET /sessions/:id/export` (operators) and the
 * dashboard's inspector write it; `Session.replay` reads it.
 */
export interface ReplayFile extends v.InferOutput<typeof replayFileSchema> {}

/** Why a history file cannot be replayed (`invalid_file`, `wrong_game`), or where a checked replay departed from it (`diverged`). */
export class ReplayError extends Error {
  /** `message` says what is wrong, naming the field or the step. */
  constructor(
    /** `invalid_file`: not a history file, or a field of it is wrong (the message names it); `wrong_game`: another game's; `diverged`: see `ReplayOptions.check`. */
    readonly code: "invalid_file" | "wrong_game" | "diverged",
    message: string,
  ) {
    super(message)
    this.name = "ReplayError"
  }
}

/** How far `Session.replay` goes, and whether it checks each step against the file. */
export interface ReplayOptions {
  /** Replays only the first `steps` steps (default: all): stop just before the step a bug shows at. */
  steps?: number
  /**
   * Checks that each step does what it did live (an action's outcome, the
   * record's revision after it) and throws a `diverged` ReplayError naming
   * the first that does not: the game code differs from the one that ran.
   * Off by default: a fixed bug is meant to change what a step does.
   */
  check?: boolean
}

/** Checks a parsed history file against its schema and the game; throws ReplayError naming what is wrong. */
export function readReplayFile(game: AnyGame, file: unknown): ReplayFile {
  if (typeof file === "string") throw new ReplayError("invalid_file", "replay file: pass the parsed JSON (e.g. `await Bun.file(path).json()`), not its path or text")
  const parsed = v.safeParse(replayFileSchema, file)
  if (!parsed.success) throw new ReplayError("invalid_file", `replay file: ${explainIssues(parsed.issues)}`)
  const f = parsed.output
  if (f.game !== game.name || f.start.game !== game.name)
    throw new ReplayError("wrong_game", `replay file: it holds a session of "${f.game}", not of "${game.name}"`)
  return f
}

/** Writes a history file (the node's export). */
export function replayFile(h: { session: string; exportedAt: number; source?: ReplayFile["source"]; start: SessionRecord; steps: readonly Step[]; end: SessionRecord }): ReplayFile {
  return {
    format: REPLAY_FORMAT,
    version: REPLAY_VERSION,
    game: h.start.game,
    session: h.session,
    exportedAt: h.exportedAt,
    ...(h.source ? { source: h.source } : {}),
    start: h.start as ReplayFile["start"],
    steps: [...h.steps],
    end: h.end as ReplayFile["end"],
  }
}

/** What replaying needs of a session (Session has it; kept structural so this file does not import it). */
export interface StepTarget {
  readonly record: { readonly rev: number }
  join(player: PlayerId, now: number): { ok: boolean; code?: string }
  leave(player: PlayerId, now: number): { ok: boolean; code?: string }
  act(req: { player: PlayerId; client: string; id: number; name: string; input: unknown; now: number }): { ok: boolean; code?: string }
  advance(now: number): void
  end(result: unknown, now: number): void
}

/** Applies `steps` in order (the first `options.steps` of them), checking each when asked. */
export function runSteps(target: StepTarget, steps: readonly Step[], options: ReplayOptions = {}): void {
  const n = options.steps === undefined ? steps.length : Math.max(0, Math.min(steps.length, Math.floor(options.steps)))
  for (let i = 0; i < n; i++) {
    const step = steps[i] as Step
    let out: { ok: boolean; code?: string } | undefined
    switch (step.k) {
      case "join":
        out = target.join(step.player, step.at)
        break
      case "leave":
        out = target.leave(step.player, step.at)
        break
      case "act":
        out = target.act({ player: step.player, client: step.client, id: step.id, name: step.name, input: step.input, now: step.at })
        break
      case "advance":
        target.advance(step.at)
        break
      case "end":
        target.end(step.result ?? null, step.at)
        break
    }
    if (!options.check) continue
    const what = `step ${i} (${step.k}${step.k === "act" ? ` "${step.name}" by ${step.player}` : ""} at ${step.at})`
    if (step.k === "act" && out && (out.ok !== step.ok || (!out.ok && out.code !== step.code)))
      throw new ReplayError("diverged", `${what} was ${step.ok ? "applied" : `refused (${step.code})`} live, and is ${out.ok ? "applied" : `refused (${out.code})`} now`)
    if (target.record.rev !== step.rev)
      throw new ReplayError("diverged", `${what} left the session at revision ${step.rev} live, and at ${target.record.rev} now`)
  }
}
