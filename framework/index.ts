/** baton: define game modules. The node (server) and client live under `baton/server` and `baton/client`. */
export * as v from "valibot"
export {
  defineGame,
  type Game,
  type AnyGame,
  type GameConfig,
  type GameContext,
  type ActionContext,
  type TickContext,
  type TimerContext,
  type PlayerContext,
  type SetupContext,
  type PlayerId,
  type Durability,
  type StateOf,
  type ViewOf,
  type ActionNames,
  type InputOf,
  type Rng,
  type SessionRecord,
  Session,
  GameLoadError,
} from "./game/index.ts"
