/** batonjs: define game modules. The node (server) and client live under `batonjs/server` and `batonjs/client`. */
export {
  defineGame,
  type Game,
  type AnyGame,
  type GameConfig,
  type GameContext,
  type ActionContext,
  type TickContext,
  type TimerContext,
  type TimerControl,
  type TimerDef,
  type MigrateContext,
  type PlayerContext,
  type SetupContext,
  type PlayerId,
  type Durability,
  type StateOf,
  type ViewOf,
  type ActionNames,
  type InputOf,
  type ResultOf,
  type Rng,
  type SessionRecord,
  Session,
  GameLoadError,
  ReplayError,
  type ReplayFile,
  type ReplayOptions,
  safeId,
  turns,
  turnsSchema,
  turnTimerSchema,
  type Turns,
  type TurnClock,
  idProblem,
  seedRng,
  rngOver,
} from "./game/index.ts"
/**
 * valibot, the schema library a game describes its state, action inputs and
 * options with (`v.object`, `v.picklist`...): the types flow from these
 * schemas. Re-exported so a game needs no dependency of its own on it.
 */
export * as v from "valibot"
