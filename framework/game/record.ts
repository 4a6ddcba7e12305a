import type { PlayerId } from "./define.ts"
import type { RngState } from "./rng.ts"

/**
 * Everything a session is, as plain JSON: what the store checkpoints and what
 * another node resumes from. Nothing about a session lives outside it.
 */
export interface SessionRecord<S = unknown> {
  /** The session's id. */
  id: string
  /** The name of the game module that runs it. */
  game: string
  /** The state's schema version (the game module's `version` when it was written). */
  version: number
  /** "ended" once the game (or an operator, or idle collection) ended it: no more actions. */
  status: "open" | "ended"
  /** The game's state. */
  state: S
  /** Seated players, in seat order. */
  players: Seat[]
  /** Pending timers, deadlines as absolute times. */
  timers: TimerEntry[]
  /** The id the next scheduled timer gets. */
  nextTimerId: number
  /** Sessions this one has spawned (their ids are `<id>-<n>`); absent in older records. */
  spawned?: number
  /** The random source's state: the session's next random numbers continue from it. */
  rng: RngState
  /** Time of the last tick, or null for games without ticks. */
  tickAt: number | null
  /** Action ids applied per client: what makes resends exactly-once. */
  clients: Record<string, ClientLedger>
  /** What the game passed to `end(...)`; null until it ends. */
  result: unknown
  /** Creation time, ms since the epoch. */
  createdAt: number
  /** Last action, join or leave (drives idle collection). */
  activeAt: number
  /** When it ended, or null. */
  endedAt: number | null
  /** Grows with every change of the record. */
  rev: number
}

export interface Seat {
  player: PlayerId
  seat: number
  joinedAt: number
}

export interface TimerEntry {
  id: number
  name: string
  at: number
  payload: unknown
}

export interface ClientLedger {
  player: PlayerId
  /** Highest action id applied (ids only grow per client). */
  seq: number
  at: number
  /** The answers to the latest actions, to repeat them to a resend. */
  results: LedgerResult[]
}

/** [id, ok, value] or [id, ok, code, message]. */
export type LedgerResult = [number, true, unknown] | [number, false, string, string]

/** How many answers a client's ledger keeps for resends (the SDK never has more in flight). */
export const LEDGER_RESULTS = 64
/** Ledgers kept per player (one per SDK instance: tabs, devices). */
export const LEDGERS_PER_PLAYER = 4
