/** Game modules and the pure session runtime: no I/O, no clock, no sockets. */
export * from "./define.ts"
export { Session, type ActRequest, type Emitted, type GameFault, type Outcome, type Spawn } from "./session.ts"
export { type SessionRecord, type Seat, type TimerEntry, type ClientLedger, type LedgerResult, LEDGER_RESULTS } from "./record.ts"
export { type Step, type ReplayFile, type ReplayOptions, ReplayError, readReplayFile, replayFile, REPLAY_FORMAT, REPLAY_VERSION } from "./replay.ts"
export { GameLoadError, explainIssues } from "./errors.ts"
export { type Rng, type RngState, seedRng, rngOver } from "./rng.ts"
export { idProblem, safeId, RESERVED_IDS, MAX_ID_LENGTH } from "./ids.ts"
export { turns, turnsSchema, turnTimerSchema, type Turns, type TurnClock } from "./turns.ts"
