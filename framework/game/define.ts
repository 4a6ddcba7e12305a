import type * as v from "valibot"
import type { Rng } from "./rng.ts"

/** A player's id: opaque to the runtime, chosen by the authentication layer. */
export type PlayerId = string

// biome-ignore lint: the schema's own types are what we infer from
export type AnySchema = v.GenericSchema<any, any>

/** Where a session's changes must be before a player hears "ok". */
export type Durability = "local" | "replicated"

/**
 * Each timer's payload by name, as `after` and `at` take it: a game's
 * `timers` give them (`TimerPayloads`). A helper that schedules timers can
 * name the ones it needs: `timers: TimerControl<{ turnOver: { turn: number } }>`.
 */
export type TimerPayloadMap = Record<string, unknown>

/** The payload argument of `after` / `at`: required unless the payload's type takes undefined. */
type PayloadArg<P> = undefined extends P ? [payload?: P] : [payload: P]

/** Timers scheduled by game code; deadlines are absolute, so they survive a move. */
export interface TimerControl<TTimers extends TimerPayloadMap = TimerPayloadMap> {
  /**
   * Fires the `timers[name]` handler `ms` milliseconds from now; returns the
   * timer id. A timer with a `payload` schema checks the payload here (it is
   * stored with the session): a payload that fails it, or that JSON cannot
   * carry, throws, naming the timer.
   */
  after<K extends keyof TTimers & string>(ms: number, name: K, ...payload: PayloadArg<TTimers[K]>): number
  /** Fires the `timers[name]` handler at an absolute time (ms since the epoch); the payload as for `after`. */
  at<K extends keyof TTimers & string>(time: number, name: K, ...payload: PayloadArg<TTimers[K]>): number
  /** Cancels a pending timer; true when it was still pending. */
  cancel(id: number): boolean
  /** Cancels every pending timer with this name; returns how many. */
  cancelAll(name: keyof TTimers & string): number
}

/** What every piece of game code sees. `state` is a draft: mutate it in place. */
export interface GameContext<S, TTimers extends TimerPayloadMap = TimerPayloadMap> {
  /** The session's state, as a draft: mutate it in place; the changes commit only if the step succeeds. */
  state: S
  /** The time of this step, ms since the epoch (never read the clock yourself). */
  readonly now: number
  /** Seeded, stored with the session: the same seed replays the same game. */
  readonly rng: Rng
  /** Seated players in seat order. */
  readonly players: readonly PlayerId[]
  /** Schedules and cancels this session's timers (handled by the game's `timers`). */
  readonly timers: TimerControl<TTimers>
  /** Sends an event to every player, or to the given ones. Events are not stored. */
  emit(event: string, data?: unknown, to?: PlayerId | readonly PlayerId[]): void
  /** Ends the session with a result every player receives. */
  end(result?: unknown): void
  /**
   * Starts a new session of another game of the app (a lobby making a
   * match): created right after this step commits, on this node. Returns its
   * id at once, so the state can name it; the id is derived from this
   * session's, so a replay names the same one.
   */
  spawn(game: string, options?: unknown): string
}

/** What an action's `apply` sees: the game context, the validated input and the player who sent it. */
export interface ActionContext<S, I, TTimers extends TimerPayloadMap = TimerPayloadMap> extends GameContext<S, TTimers> {
  /** The action's input, already validated against the action's `input` schema. */
  readonly input: I
  /** The player who sent the action (authenticated by the connection, never by the input). */
  readonly player: PlayerId
  /** Aborts the action: the state stays exactly as before and the player gets this code. */
  reject(code: string, message?: string): never
}

/** What `onJoin` and `onLeave` see: the game context and the player taking or giving up a seat. */
export interface PlayerContext<S, TTimers extends TimerPayloadMap = TimerPayloadMap> extends GameContext<S, TTimers> {
  /** The player taking or giving up its seat. */
  readonly player: PlayerId
  /**
   * In `onJoin`: refuses the seat with this code, the state stays as it was.
   * In `onLeave`: drops the hook's changes only; the seat is freed anyway.
   */
  reject(code: string, message?: string): never
}

/** What `tick.apply` sees: the game context and the fixed time step. */
export interface TickContext<S, TTimers extends TimerPayloadMap = TimerPayloadMap> extends GameContext<S, TTimers> {
  /** Seconds since the previous tick (fixed: 1 / hz). */
  readonly dt: number
}

/** What a timer handler sees: the game context and the payload the timer was scheduled with. */
export interface TimerContext<S, TTimers extends TimerPayloadMap = TimerPayloadMap, TPayload = unknown> extends GameContext<S, TTimers> {
  /**
   * What was passed to `timers.after` / `timers.at`, as JSON (none: null);
   * with a `payload` schema, typed and parsed by it.
   */
  readonly payload: TPayload
}

/**
 * A timer of a game's `timers`: a handler (its payload is `unknown`), or a
 * `payload` schema and the handler, `apply`, which gets the payload typed.
 */
export type TimerDef<S, TPayload, TTimers extends TimerPayloadMap = TimerPayloadMap> =
  | ((ctx: TimerContext<S, TTimers, unknown>) => void)
  | {
      /** The payload's schema: `after` / `at` check the payload against it when the timer is scheduled. */
      payload: TPayload
      /** Runs when the timer is due; `ctx.payload` is the payload, parsed by the schema. */
      apply(ctx: TimerContext<S, TTimers, TPayload extends AnySchema ? v.InferOutput<TPayload> : unknown>): void
    }

/** Each timer's payload type as `after` takes it, from the `timers` definitions (a bare handler's: unknown). */
export type TimerPayloads<TTimers> = { [K in keyof TTimers]: TTimers[K] extends AnySchema ? v.InferInput<TTimers[K]> : unknown }

/** What a migration step gets besides the old state: the pending timers, to rename, re-shape or drop. */
export interface MigrateContext {
  /**
   * The session's pending timers (copies): change a timer's `name`, `at` or
   * `payload` in place, or remove timers (`ctx.timers = ctx.timers.filter(...)`).
   * After the last step each must name a timer of the game and fit its
   * `payload` schema, or the session does not load.
   */
  timers: { id: number; name: string; at: number; payload: unknown }[]
}

/** What `setup` sees when a session is created. */
export interface SetupContext {
  /** The creation time, ms since the epoch. */
  readonly now: number
  /** The session's seeded random source (seeded from the session id unless a seed was chosen). */
  readonly rng: Rng
  /** The options the session was created with, validated against the game's `options` schema. */
  readonly options: unknown
}

export interface ActionDef<S, TInput extends AnySchema, TTimers extends TimerPayloadMap = TimerPayloadMap> {
  input: TInput
  /** Mutates `state`; a returned value is sent back to the acting player only. */
  apply(ctx: ActionContext<S, v.InferOutput<TInput>, TTimers>): unknown
}

type Actions<S, I extends Record<string, AnySchema>, TTimers extends TimerPayloadMap> = {
  [K in keyof I]: ActionDef<S, I[K], TTimers>
}

/** Each timer's `payload` schema by name (unknown for a bare handler): what `defineGame` infers from `timers`. */
export type TimerSchemas = Record<string, unknown>

/** Every timer name with its schema, `unknown` for those that have none. */
type SchemasByName<N extends string, T> = { [K in N]: K extends keyof T ? T[K] : unknown }

/**
 * A game's `timers`: each a handler, or a `payload` schema and `apply` (see
 * TimerDef). The names are inferred from the keys; the schemas from the
 * second part, which only reads them (a bare handler matches `{ call }`: it
 * has no schema). Two parts because a game whose timers are all bare
 * handlers gives the compiler nothing to infer a schema map from before it
 * types the handlers, and the names would be lost with it.
 */
type Timers<S, N extends string, T> = { [K in N]: TimerDef<S, SchemasByName<N, T>[K], TimerPayloads<SchemasByName<N, T>>> } & {
  [K in keyof T]: { payload: T[K] } | { call: unknown }
}

/**
 * What `defineGame` takes: a game module's definition. The type parameters
 * are inferred from it: the state's schema, the actions' input schemas, what
 * `view` returns and the timers' payload schemas.
 */
export interface GameConfig<
  TState extends AnySchema,
  TInputs extends Record<string, AnySchema>,
  TView,
  TTimers extends TimerSchemas,
  TActions = unknown,
  TTimerNames extends string = keyof TTimers & string,
> {
  /** Unique name; sessions are created by it. */
  name: string
  /** Version of the state's shape; raise it with a `migrate` step when the shape changes. */
  version: number
  /**
   * Seats per session: a join past `max` is refused; `min` is for clients
   * (shown in the listings), the runtime does not wait for it.
   */
  players: { min: number; max: number }
  /** The state's valibot schema: the state type comes from it; `setup`'s state and every resumed state are checked against it. */
  state: TState
  /**
   * The starting state. TypeScript widens string literals returned here
   * (inference limits of object-literal arguments): write `phase: "lobby" as const`.
   */
  setup(ctx: SetupContext): v.InferOutput<TState>
  /** What players can do, by name: each an `input` schema (checked before `apply` runs) and `apply`. */
  actions: Actions<v.InferOutput<TState>, TInputs, TimerPayloads<SchemasByName<TTimerNames, TTimers>>> & TActions
  /** What one player may see; without it every player sees the whole state. */
  view?(state: v.InferOutput<TState>, player: PlayerId): TView
  /**
   * What anyone looking for a game may see of a session in the public listing
   * (GET /sessions?game=…), e.g. `(s) => ({ host: s.host, mode: s.mode })`.
   * Without it the listing shows only id, game and seats. Keep it small
   * (at most 2 KiB of JSON) and free of anything players must not learn.
   */
  publish?(state: v.InferOutput<TState>): unknown
  /**
   * Makes the game realtime: `apply` runs `hz` times a second (at most 120).
   * A session that fell behind (a move, a stall) runs at most 5 owed ticks
   * and skips the rest.
   */
  tick?: { hz: number; apply(ctx: TickContext<v.InferOutput<TState>, TimerPayloads<SchemasByName<TTimerNames, TTimers>>>): void }
  /**
   * The timers game code schedules (`timers.after(ms, name, payload)`), by
   * name: `{ payload: schema, apply(ctx) }` types the payload (`after` checks
   * it, `ctx.payload` has the schema's type), a bare handler takes any.
   */
  timers?: Timers<v.InferOutput<TState>, TTimerNames, TTimers>
  /** Runs when a player takes a seat (not on a reconnect); may reject to refuse the seat. */
  onJoin?(ctx: PlayerContext<v.InferOutput<TState>, TimerPayloads<SchemasByName<TTimerNames, TTimers>>>): void
  /** Runs when a player gives up its seat. */
  onLeave?(ctx: PlayerContext<v.InferOutput<TState>, TimerPayloads<SchemasByName<TTimerNames, TTimers>>>): void
  /**
   * `migrate[n]` turns a state of version n into version n + 1; it may also
   * bring the pending timers along (`ctx.timers`) when their names or
   * payloads changed.
   */
  migrate?: Record<number, (old: any, ctx: MigrateContext) => unknown>
  /** Validates the options a session is created with (default: none accepted but `undefined`). */
  options?: AnySchema
  /** Default "local". See Durability. */
  durability?: Durability
}

/** A game module: the definition plus the types inferred from it. */
export interface Game<
  TState extends AnySchema = AnySchema,
  TInputs extends Record<string, AnySchema> = Record<string, AnySchema>,
  TView = unknown,
  TTimers extends TimerSchemas = TimerSchemas,
  TResults = Record<string, unknown>,
> extends GameConfig<TState, TInputs, TView, TTimers> {
  /** Marks a game module made by `defineGame`. */
  readonly kind: "baton.game"
  /** The config's `durability`, "local" when it gave none. */
  durability: Durability
  /** Type-only carriers for the client SDK; undefined at run time. */
  readonly $types: { state: v.InferOutput<TState>; view: TView; inputs: { [K in keyof TInputs]: v.InferInput<TInputs[K]> }; results: TResults }
}

/** Any game module, whatever its types: what code that takes games of every kind accepts (an app's `games`). */
// biome-ignore lint: any game, whatever its types
export type AnyGame = Game<any, any, any, any, any>

/** A game module's state type: `StateOf<typeof tictactoe>`. */
export type StateOf<G extends AnyGame> = G["$types"]["state"]
/** What one player sees of a game module's state: `view`'s return type, or the state's without `view`. */
export type ViewOf<G extends AnyGame> = G["$types"]["view"]
/** The names of a game module's actions (what `GameSession.act` takes). */
export type ActionNames<G extends AnyGame> = keyof G["$types"]["inputs"] & string
/** The input of action `K` of a game module, as a client sends it (before the schema's transforms). */
export type InputOf<G extends AnyGame, K extends ActionNames<G>> = G["$types"]["inputs"][K]
/** What action `K`'s `apply` returns: what the acting player's `act` resolves to (it travels as JSON). */
export type ResultOf<G extends AnyGame, K extends ActionNames<G>> = K extends keyof G["$types"]["results"] ? G["$types"]["results"][K] : unknown

/** Each action's `apply` return type, by name. */
type ResultsOf<TActions> = { [K in keyof TActions]: TActions[K] extends { apply(...args: never[]): infer R } ? R : unknown }

/**
 * Defines a game module. Types flow from the definition: the state type from
 * `state`, each action's input type from its `input` schema, the view type
 * from `view`, each timer's payload type from its `payload` schema.
 */
export function defineGame<
  TState extends AnySchema,
  TInputs extends Record<string, AnySchema>,
  TView = v.InferOutput<TState>,
  // biome-ignore lint: no timers unless `timers` defines some
  TTimers extends TimerSchemas = {},
  // The actions object as written: where each `apply`'s return type is read from.
  TActions = unknown,
  TTimerNames extends string = never,
>(
  config: GameConfig<TState, TInputs, TView, TTimers, TActions, TTimerNames>,
): Game<TState, TInputs, TView, SchemasByName<TTimerNames, TTimers>, ResultsOf<TActions>> {
  const problems = checkConfig(config as unknown as GameConfig<AnySchema, Record<string, AnySchema>, unknown, TimerSchemas>)
  if (problems.length > 0) throw new Error(`defineGame(${JSON.stringify(config.name)}): ${problems.join("; ")}`)
  const game = { ...config, durability: config.durability ?? "local", kind: "baton.game" as const, $types: undefined as never }
  return game as Game<TState, TInputs, TView, SchemasByName<TTimerNames, TTimers>, ResultsOf<TActions>>
}

function checkConfig(c: GameConfig<AnySchema, Record<string, AnySchema>, unknown, TimerSchemas>): string[] {
  const out: string[] = []
  if (typeof c.name !== "string" || !/^[a-z0-9][a-z0-9_-]{0,63}$/.test(c.name))
    out.push("name must be 1-64 lowercase letters, digits, '-' or '_'")
  if (!Number.isInteger(c.version) || c.version < 1) out.push("version must be an integer >= 1")
  const { min, max } = c.players ?? ({} as { min: number; max: number })
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max < min)
    out.push("players must be { min, max } with 1 <= min <= max")
  if (!c.actions || typeof c.actions !== "object") out.push("actions must be an object")
  else
    for (const [name, a] of Object.entries(c.actions)) {
      if (!a || typeof a.apply !== "function" || !a.input) out.push(`actions.${name} needs input and apply`)
    }
  if (typeof c.setup !== "function") out.push("setup must be a function")
  if (c.tick && !(c.tick.hz > 0 && c.tick.hz <= 120)) out.push("tick.hz must be in (0, 120]")
  if (c.tick && typeof c.tick.apply !== "function") out.push("tick.apply must be a function")
  if (c.publish !== undefined && typeof c.publish !== "function") out.push("publish must be a function")
  if (c.timers !== undefined && (c.timers === null || typeof c.timers !== "object")) out.push("timers must be an object")
  else
    for (const [name, t] of Object.entries(c.timers ?? {})) {
      const typed = t !== null && typeof t === "object" && typeof t.apply === "function" && isSchema(t.payload)
      if (typeof t !== "function" && !typed) out.push(`timers.${name} must be a handler or { payload: schema, apply }`)
    }
  for (let from = 1; from < c.version; from++)
    if (c.migrate && from in c.migrate && typeof c.migrate[from] !== "function")
      out.push(`migrate[${from}] must be a function`)
  if (c.durability && c.durability !== "local" && c.durability !== "replicated")
    out.push('durability must be "local" or "replicated"')
  return out
}

/** A valibot schema (what `v.object(...)` and its kin return). */
function isSchema(x: unknown): x is AnySchema {
  return x !== null && typeof x === "object" && (x as { kind?: unknown }).kind === "schema"
}
