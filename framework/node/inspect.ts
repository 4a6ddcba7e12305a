import { type AnyGame, type PlayerId, type ReplayFile, replayFile, type SessionRecord, type Step, type TimerEntry } from "../game/index.ts"
import { applyPatch, diff, type PatchOp } from "../protocol/index.ts"
import { fromStored, type Store } from "../store/index.ts"

/** One changed path between two records, for people: `state.board[4]` changed from null to "X". */
export interface Change {
  path: string
  kind: "added" | "removed" | "changed"
  before?: unknown
  after?: unknown
}

/** One checkpoint of a session's history (or the live record after the last one), against the one before. */
export interface InspectCheckpoint {
  rev: number
  /** When it was written (ms since the epoch); the live one: when it was read. */
  at: number
  epoch?: number
  /** The calls into the session since the checkpoint before (absent from documents of older versions). */
  steps: Step[]
  /** The change from the record before (protocol/patch.ts): what the dashboard applies to scrub forward. */
  ops: PatchOp[]
  /** The same change, readable, `rev` left out; at most MAX_CHANGES of them. */
  changes: Change[]
  /** Changed paths past MAX_CHANGES, not listed. */
  moreChanges?: number
  /** Whether its steps account for everything it changed; when not (an older node wrote it, a migration, a journal recovery), an export starts after it. */
  replayable: boolean
  /** The owner's live record, not checkpointed yet. */
  live?: true
}

/** What the dashboard's inspector shows of one session. */
export interface InspectView {
  session: string
  game: string
  /** The node that read it, and whether from the session it runs (owner) or from its copy of the document (replica). */
  node: string
  copy: "owner" | "replica"
  /** When it was read (the node's clock). */
  at: number
  epoch: number
  /** The automerge document the history is read from (null: none held here). */
  document: string | null
  durability: "local" | "replicated"
  /** The newest record: the live one on the owner, the newest checkpoint on a replica. */
  record: SessionRecord
  /** What each seated player sees of its state (the game's `view`). */
  views: { player: PlayerId; view?: unknown; error?: string }[]
  /** `connected`: null when read from a copy (only the owner knows). */
  players: { player: PlayerId; seat: number; joinedAt: number; connected: boolean | null }[]
  timers: TimerEntry[]
  /** The latest steps, oldest first; an action's `acked` is false while its ack waits for a replica. */
  ledger: (Step & { acked?: boolean })[]
  history: {
    start: { rev: number; at: number; record: SessionRecord }
    checkpoints: InspectCheckpoint[]
    /** Where an export starts: -1 the start, else after that checkpoint. */
    replayFrom: number
  }
}

/** What the owner adds to its document's history: the live record and the steps not checkpointed yet. */
export interface LiveSession {
  record: SessionRecord
  steps: readonly Step[]
  epoch: number
  holdAcks: boolean
  acknowledgedRev: number
  isConnected(player: PlayerId): boolean
}

const MAX_CHANGES = 300
/** The ledger's default and largest lengths (`?tail=`). */
export const LEDGER_TAIL = 50
export const MAX_LEDGER_TAIL = 1000

interface Read {
  node: string
  now: number
  game: AnyGame
  history: NonNullable<ReturnType<Store["history"]>> | undefined
  live?: LiveSession
}

interface Timeline {
  start: { rev: number; at: number; record: SessionRecord }
  checkpoints: InspectCheckpoint[]
  /** The record at each checkpoint (live form). */
  records: SessionRecord[]
  replayFrom: number
  epoch: number
}

/** The history of a session as the inspector and an export read it: the document's checkpoints, then the live record. */
function timelineOf({ history, live, now }: Read): Timeline | undefined {
  const startStored = history?.start.record ?? live?.record
  if (!startStored) return undefined
  const start = { rev: startStored.rev, at: history?.start.at ?? now, record: history ? fromStored(startStored) : startStored }
  const checkpoints: InspectCheckpoint[] = []
  const records: SessionRecord[] = []
  let stored = history?.start.record
  let prev = start.record
  let replayFrom = -1
  const add = (record: SessionRecord, c: Omit<InspectCheckpoint, "ops" | "changes" | "replayable">) => {
    const ops = diff(prev, record)
    const changes: Change[] = []
    const more = describeChanges(prev, record, changes)
    const replayable = ops.length === 0 || explains(c.steps, prev, record)
    if (!replayable) replayFrom = checkpoints.length
    checkpoints.push({ ...c, ops, changes, ...(more ? { moreChanges: more } : {}), replayable })
    records.push(record)
    prev = record
  }
  for (const e of history?.chain ?? []) {
    stored = applyPatch(stored as SessionRecord, e.ops)
    add(fromStored(stored), { rev: e.rev, at: e.at, ...(e.epoch ? { epoch: e.epoch } : {}), steps: e.steps ?? [] })
  }
  if (live && live.record.rev !== prev.rev) add(live.record, { rev: live.record.rev, at: now, steps: [...live.steps], live: true })
  return { start, checkpoints, records, replayFrom, epoch: live?.epoch ?? history?.epoch ?? 1 }
}

/** Whether `steps` lead from `before` to `after`: each changed the record, the last one to `after`'s revision, under one state version. */
function explains(steps: readonly Step[], before: SessionRecord, after: SessionRecord): boolean {
  const first = steps[0]
  const last = steps[steps.length - 1]
  return !!first && !!last && first.rev > before.rev && last.rev === after.rev && before.version === after.version
}

/** What the inspector shows of a session; undefined when there is nothing to read. */
export function inspectView(read: Read, tail: number, onViewError: (player: PlayerId, error: unknown) => string): InspectView | undefined {
  const t = timelineOf(read)
  if (!t) return undefined
  const record = t.records[t.records.length - 1] ?? t.start.record
  const { game, live } = read
  const views = record.players.map(({ player }) => {
    try {
      return { player, view: game.view ? game.view(record.state, player) : record.state }
    } catch (error) {
      return { player, error: onViewError(player, error) }
    }
  })
  const steps = t.checkpoints.flatMap((c) => c.steps).slice(-tail)
  const ledger = steps.map((s) => (live?.holdAcks && s.k === "act" ? { ...s, acked: s.rev <= live.acknowledgedRev } : s))
  return {
    session: record.id,
    game: record.game,
    node: read.node,
    copy: live ? "owner" : "replica",
    at: read.now,
    epoch: t.epoch,
    document: read.history?.url ?? null,
    durability: game.durability,
    record,
    views,
    players: record.players.map((s) => ({ ...s, connected: live ? live.isConnected(s.player) : null })),
    timers: [...record.timers].sort((a, b) => a.at - b.at),
    ledger,
    history: { start: t.start, checkpoints: t.checkpoints, replayFrom: t.replayFrom },
  }
}

/** The session's history as a file `Session.replay` reads: from the newest point its steps account for onwards. */
export function exportHistory(read: Read): ReplayFile | undefined {
  const t = timelineOf(read)
  if (!t) return undefined
  const start = t.replayFrom < 0 ? t.start.record : (t.records[t.replayFrom] as SessionRecord)
  const end = t.records[t.records.length - 1] ?? t.start.record
  return replayFile({
    session: end.id,
    exportedAt: read.now,
    source: { node: read.node, copy: read.live ? "owner" : "replica" },
    start,
    steps: t.checkpoints.slice(t.replayFrom + 1).flatMap((c) => c.steps),
    end,
  })
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

/** Appends the readable changes from record `a` to record `b` (its `rev` left out); returns how many did not fit. */
function describeChanges(a: unknown, b: unknown, out: Change[]): number {
  if (a === b) return 0
  let more = 0
  const push = (c: Change) => {
    if (out.length < MAX_CHANGES) out.push(c)
    else more++
  }
  const visit = (x: unknown, y: unknown, p: string) => {
    if (x === y) return
    const bothArrays = Array.isArray(x) && Array.isArray(y)
    const bothObjects = isObject(x) && isObject(y) && !Array.isArray(x) && !Array.isArray(y)
    if (bothArrays) {
      const xs = x as unknown[]
      const ys = y as unknown[]
      for (let i = 0; i < Math.max(xs.length, ys.length); i++) {
        const at = `${p}[${i}]`
        if (i >= xs.length) push({ path: at, kind: "added", after: ys[i] })
        else if (i >= ys.length) push({ path: at, kind: "removed", before: xs[i] })
        else visit(xs[i], ys[i], at)
      }
    } else if (bothObjects) {
      const xo = x as Record<string, unknown>
      const yo = y as Record<string, unknown>
      for (const k of Object.keys(xo)) {
        if (p === "" && k === "rev") continue
        const at = p === "" ? key(k).replace(/^\./, "") : p + key(k)
        if (!Object.hasOwn(yo, k)) push({ path: at, kind: "removed", before: xo[k] })
        else visit(xo[k], yo[k], at)
      }
      for (const k of Object.keys(yo)) if (!Object.hasOwn(xo, k)) push({ path: p === "" ? key(k).replace(/^\./, "") : p + key(k), kind: "added", after: yo[k] })
    } else if (JSON.stringify(x) !== JSON.stringify(y)) push({ path: p || "(whole)", kind: "changed", before: x, after: y })
  }
  visit(a, b, "")
  return more
}

function key(k: string): string {
  return IDENTIFIER.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`
}

function isObject(x: unknown): x is object {
  return typeof x === "object" && x !== null
}
