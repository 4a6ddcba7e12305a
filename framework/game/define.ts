import type * as v from "valibot"
import type { Rng } from "./rng.ts"

/** A player's id: opaque to the runtime, chosen by the authentication layer. */
export type PlayerId = string

// biome-ignore lint: the schema's own types are what we infer from
export type AnySchema = v.GenericSchema<any, any>

/** Where a session's changes must be before a player hears "ok". */
export type Durability = "local" | "replicated"

/** Timers scheduled by game code; deadlines are absolute, so they survive a move. */
export interface TimerControl<TName extends string = string> {
  /** Fires the `timers[name]` handler `ms` milliseconds from now; returns the timer id. */
  after(ms: number, name: TName, payload?: unknown): number
  /** Fires the `timers[name]` handler at an absolute time (ms since the epoch). */
  at(time: number, name: TName, payload?: unknown): number
  /** Cancels a pending timer; true when it was still pending. */
  cancel(id: number): boolean
  /** Cancels every pending timer with this name; returns how many. */
  cancelAll(name: TName): number
}

/** What every piece of game code sees. `state` is a draft: mutate it in place. */
export interface GameContext<S, TTimer extends string = string> {
  /** The session's state, as a draft: mutate it in place; the changes commit only if the step succeeds. */
  state: S
  /** The time of this step, ms since the epoch (never read the clock yourself). */
  readonly now: number
  /** Seeded, stored with the session: the same seed replays the same game. */
  readonly rng: Rng
  /** Seated players in seat order. */
  readonly players: readonly PlayerId[]
  /** Schedules and cancels this session's timers (handled by the game's `timers`). */
  readonly timers: TimerControl<TTimer>
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
export interface ActionContext<S, I, TTimer extends string = string> extends GameContext<S, TTimer> {
  /** The action's input, already validated against the action's `input` schema. */
  readonly input: I
  /** The player who sent the action (authenticated by the connection, never by the input). */
  readonly player: PlayerId
  /** Aborts the action: the state stays exactly as before and the player gets this code. */
  reject(code: string, message?: string): never
}

/** What `onJoin` and `onLeave` see: the game context and the player taking or giving up a seat. */
export interface PlayerContext<S, TTimer extends string = string> extends GameContext<S, TTimer> {
  /** The player taking or giving up its seat. */
  readonly player: PlayerId
  /**
   * In `onJoin`: refuses the seat with this code, the state stays as it was.
   * In `onLeave`: drops the hook's changes only; the seat is freed anyway.
   */
  reject(code: string, message?: string): never
}

/** What `tick.apply` sees: the game context and the fixed time step. */
export interface TickContext<S, TTimer extends string = string> extends GameContext<S, TTimer> {
  /** Seconds since the previous tick (fixed: 1 / hz). */
  readonly dt: number
}

/** What a timer handler sees: the game context and the payload the timer was scheduled with. */
export interface TimerContext<S, TTimer extends string = string> extends GameContext<S, TTimer> {
  /** What was passed to `timers.after` / `timers.at`, as JSON (none: null). */
  readonly payload: unknown
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

export interface ActionDef<S, TInput extends AnySchema, TTimer extends string = string> {
  input: TInput
  /** Mutates `state`; a returned value is sent back to the acting player only. */
  apply(ctx: ActionContext<S, v.InferOutput<TInput>, TTimer>): unknown
}

type Actions<S, I extends Record<string, AnySchema>, TTimer extends string> = {
  [K in keyof I]: ActionDef<S, I[K], TTimer>
}

/**
 * What `defineGame` takes: a game module's definition. The type parameters
 * are inferred from it: the state's schema, the actions' input schemas, what
 * `view` returns and the timers' names.
 */
export interface GameConfig<
  TState extends AnySchema,
  TInputs extends Record<string, AnySchema>,
  TView,
  TTimer extends string,
  TActions = unknown,
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
  actions: Actions<v.InferOutput<TState>, TInputs, TTimer> & TActions
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
  tick?: { hz: number; apply(ctx: TickContext<v.InferOutput<TState>, TTimer>): void }
  /** The handlers of the timers game code schedules (`timers.after(ms, name)`), by name. */
  timers?: Record<TTimer, (ctx: TimerContext<v.InferOutput<TState>, TTimer>) => void>
  /** Runs when a player takes a seat (not on a reconnect); may reject to refuse the seat. */
  onJoin?(ctx: PlayerContext<v.InferOutput<TState>, TTimer>): void
  /** Runs when a player gives up its seat. */
  onLeave?(ctx: PlayerContext<v.InferOutput<TState>, TTimer>): void
  /** `migrate[n]` turns a state of version n into version n + 1. */
  migrate?: Record<number, (old: any) => unknown>
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
  TTimer extends string = string,
  TResults = Record<string, unknown>,
> extends GameConfig<TState, TInputs, TView, TTimer> {
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
 * from `view`.
 */
export function defineGame<
  TState extends AnySchema,
  TInputs extends Record<string, AnySchema>,
  TView = v.InferOutput<TState>,
  TTimer extends string = never,
  // The actions object as written: where each `apply`'s return type is read from.
  TActions = unknown,
>(config: GameConfig<TState, TInputs, TView, TTimer, TActions>): Game<TState, TInputs, TView, TTimer, ResultsOf<TActions>> {
  const problems = checkConfig(config as GameConfig<AnySchema, Record<string, AnySchema>, unknown, string>)
  if (problems.length > 0) throw new Error(`defineGame(${JSON.stringify(config.name)}): ${problems.join("; ")}`)
  return {
    ...config,
    durability: config.durability ?? "local",
    kind: "baton.game",
    $types: undefined as never,
  }
}

function checkConfig(c: GameConfig<AnySchema, Record<string, AnySchema>, unknown, string>): string[] {
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
  for (let from = 1; from < c.version; from++)
    if (c.migrate && from in c.migrate && typeof c.migrate[from] !== "function")
      out.push(`migrate[${from}] must be a function`)
  if (c.durability && c.durability !== "local" && c.durability !== "replicated")
    out.push('durability must be "local" or "replicated"')
  return out
}
