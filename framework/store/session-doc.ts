import "./no-native-cbor.ts"
import { ImmutableString } from "@automerge/automerge"
import { idProblem, type LedgerResult, type SessionRecord, type Step } from "../game/index.ts"
import { applyPatch, diff, type PatchOp } from "../protocol/index.ts"
import { fromAutomerge } from "./automerge-json.ts"

/**
 * One session's automerge document. The record is JSON text: `base` is the
 * record when the document was started, and each checkpoint appends one
 * `log` entry with the diff from the checkpoint before. A checkpoint is then
 * one automerge operation whatever it changed: written field by field, each
 * changed field cost about 35 µs of automerge (wasm) on Bun, and checkpoints
 * were the largest cost per action. The history still grows only by what
 * changed, and compaction starts a fresh document from the current record.
 */
export interface SessionDoc {
  v: 2
  /** The owner's epoch when it started this document. */
  epoch: number
  /** JSON of `{ at, record }` (stored form, see toStored). */
  base: string
  /** JSON of one `LogEntry` per checkpoint since `base`. */
  log: string[]
}

/** A checkpoint: the diff of the stored record from the one before, its revision, and when it was written. */
export interface LogEntry {
  rev: number
  /** The revision the diff applies to (the entry before it in its writer's chain). */
  base?: number
  /** The writer's epoch: a handoff continues the document under the next one. */
  epoch?: number
  /** When the owner wrote it (ms since the epoch): replicas measure their lag by it. */
  at: number
  ops: PatchOp[]
  /**
   * The calls into the session since the entry before (absent when none, and
   * in entries of older versions): what makes the document's history
   * replayable, not only readable (see game/replay.ts).
   */
  steps?: Step[]
}

/** A session as read from its document. */
export interface SessionCopy {
  record: SessionRecord
  epoch: number
  /** When the newest checkpoint in it was written. */
  at: number
}

/**
 * The stored form of a record: a client's ledger keeps its action counter
 * (`seq`: what makes a resend after a restart or a failover exactly-once),
 * the refusals in its window as one JSON string that changes only when an
 * action is refused, and the values of its successful actions in the window
 * keyed by action id. A checkpoint's diff then adds the new answers and drops
 * the ones that left the window, a few small ops: each answer travels with
 * the change it belongs to, so a resend after a restart, a handoff or a
 * failover gets the original value back, never a bare `ok`.
 */
interface StoredLedger {
  player: string
  seq: number
  at: number
  /** JSON of the refused answers in the window. */
  x: string
  /** The successful answers in the window: action id → value (null: none). Absent in documents of older versions. */
  ok?: Record<string, unknown>
}

const storedLedgers = new WeakMap<object, StoredLedger>()

export function toStored(record: SessionRecord): SessionRecord {
  const clients: Record<string, StoredLedger> = {}
  for (const [id, ledger] of Object.entries(record.clients)) {
    // Unchanged ledgers are the same objects (structural sharing): convert each once.
    let stored = storedLedgers.get(ledger)
    if (!stored) {
      const ok: Record<string, unknown> = {}
      for (const r of ledger.results) if (r[1]) ok[r[0]] = r[2] ?? null
      stored = { player: ledger.player, seq: ledger.seq, at: ledger.at, x: JSON.stringify(ledger.results.filter((r) => !r[1])), ok }
      storedLedgers.set(ledger, stored)
    }
    clients[id] = stored
  }
  return { ...record, clients: clients as unknown as SessionRecord["clients"] }
}

export function fromStored(record: SessionRecord): SessionRecord {
  const clients: SessionRecord["clients"] = {}
  for (const [id, raw] of Object.entries(record.clients ?? {})) {
    if (idProblem(id)) continue // a document from a peer or a disk: no key of it may reach a prototype
    const l = raw as unknown as StoredLedger | string
    if (typeof l === "string") clients[id] = JSON.parse(l)
    else clients[id] = { player: l.player, seq: l.seq, at: l.at, results: resultsOf(l) }
  }
  return { ...record, clients }
}

/** A stored ledger's answers, refusals and successes, in action order (its keys came from a document: only whole ids count). */
function resultsOf(l: StoredLedger): LedgerResult[] {
  const refused: LedgerResult[] = l.x ? JSON.parse(l.x) : []
  const ok: LedgerResult[] = []
  if (l.ok && typeof l.ok === "object")
    for (const [k, value] of Object.entries(l.ok)) {
      const id = Number(k)
      if (Number.isSafeInteger(id) && id >= 1 && String(id) === k) ok.push([id, true, value ?? null])
    }
  if (ok.length === 0) return refused
  return [...refused, ...ok].sort((a, b) => a[0] - b[0])
}

/**
 * A checkpoint's ops from `prev` to `next` (both in stored form). A busy
 * client's answers change wholesale between checkpoints (hundreds of actions
 * a second against a window of 64): one op per answer added and one per
 * answer dropped made a 4-player session's entry ~22 KB where the whole
 * record is ~3 KB, and the document was compacted at almost every
 * checkpoint. Such a window is written as one value instead, an op that
 * every version reads.
 */
export function checkpointOps(prev: SessionRecord, next: SessionRecord): PatchOp[] {
  const ops = diff(prev, next)
  let out: PatchOp[] | undefined
  for (let i = 0; i < ops.length; ) {
    const client = windowOf((ops[i] as PatchOp).p)
    if (client === undefined) {
      out?.push(ops[i] as PatchOp)
      i++
      continue
    }
    // diff walks depth-first: one client's window ops follow each other.
    let j = i + 1
    while (j < ops.length && windowOf((ops[j] as PatchOp).p) === client) j++
    const window = (next.clients[client] as unknown as StoredLedger).ok ?? {}
    if (2 * (j - i) > Object.keys(window).length) {
      out ??= ops.slice(0, i)
      out.push({ p: ["clients", client, "ok"], v: window })
    } else out?.push(...ops.slice(i, j))
    i = j
  }
  return out ?? ops
}

/** The client whose window of answers an op's path is in (`clients.<id>.ok.<action id>`), if it is. */
function windowOf(p: readonly (string | number)[]): string | undefined {
  return p.length === 4 && p[0] === "clients" && p[2] === "ok" ? (p[1] as string) : undefined
}

/** The initial value of a new document holding `stored` (a record in stored form). */
export function newSessionDoc(stored: SessionRecord, epoch: number, at: number): { doc: SessionDoc; baseBytes: number } {
  const base = JSON.stringify({ at, record: stored })
  const doc = { v: 2, epoch, base: new ImmutableString(base), log: [] } as unknown as SessionDoc
  return { doc, baseBytes: base.length }
}

/** One checkpoint's log entry, as the text appended to the document. */
export function logEntry(entry: LogEntry): ImmutableString {
  return new ImmutableString(JSON.stringify(entry))
}

/**
 * Reads a session document (an automerge doc's value) into the stored form
 * of its record, or undefined when it holds none (not synced yet). Documents
 * written field by field (version 1) are read too.
 */
export function readStored(raw: unknown): { stored: SessionRecord; epoch: number; at: number; entries: number; logBytes: number } | undefined {
  const h = readHistory(raw)
  if (!h) return undefined
  if (h.v1) return { stored: h.start.record, epoch: h.epoch, at: h.start.at, entries: Number.POSITIVE_INFINITY, logBytes: 0 }
  let { at, record } = h.start
  for (const entry of h.chain) {
    record = applyPatch(record, entry.ops)
    at = entry.at
  }
  return { stored: record, epoch: h.epoch, at, entries: h.entries, logBytes: h.logBytes }
}

/**
 * A session document as its history: the record it was started with (stored
 * form) and the checkpoints that make the current record, in order. A
 * document of the older layout (version 1) has no history: its record is
 * the start, with no checkpoint after it.
 */
export function readHistory(raw: unknown):
  | { start: { at: number; record: SessionRecord }; chain: LogEntry[]; epoch: number; entries: number; logBytes: number; v1?: true }
  | undefined {
  if (!raw || typeof raw !== "object") return undefined
  const d = raw as Record<string, unknown>
  if (d.record) {
    const v1 = fromAutomerge<{ epoch: number; at: number; record: SessionRecord }>(d)
    return { start: { at: v1.at, record: v1.record }, chain: [], epoch: v1.epoch, entries: 0, logBytes: 0, v1: true }
  }
  if (d.base === undefined) return undefined
  const start = JSON.parse(String(d.base)) as { at: number; record: SessionRecord }
  const texts = ((d.log ?? []) as unknown[]).map(String)
  const chain = newestChain(start.record.rev, texts.map((t) => JSON.parse(t) as LogEntry))
  const logBytes = texts.reduce((n, t) => n + t.length, 0)
  return { start, chain, epoch: Math.max(Number(d.epoch), ...chain.map((e) => e.epoch ?? 0)), entries: texts.length, logBytes }
}

/**
 * The entries that make the current record, in order. One writer makes one
 * chain (each entry's base is the rev before it). A handoff continues the
 * document under the next epoch from the last entry of the old owner; should
 * the old owner write on after that (a handoff that timed out on its side
 * but not on the target's, until fencing stops it), its late entries lose to
 * the newer epoch's chain wherever the merge put them in the list.
 */
function newestChain(baseRev: number, entries: LogEntry[]): LogEntry[] {
  const out: LogEntry[] = []
  let rev = baseRev
  let epoch = 0
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as LogEntry
    if ((e.epoch ?? 0) < epoch) continue
    if (e.base !== undefined && e.base !== rev) continue
    // An older epoch's entry counts only if no newer epoch's chain starts at or before it.
    if (entries.some((n, j) => j > i && (n.epoch ?? 0) > (e.epoch ?? 0) && n.base !== undefined && n.base < e.rev && n.base >= rev)) continue
    out.push(e)
    rev = e.rev
    epoch = e.epoch ?? epoch
  }
  return out
}

export function readSessionDoc(raw: unknown): SessionCopy | undefined {
  const s = readStored(raw)
  return s && { record: fromStored(s.stored), epoch: s.epoch, at: s.at }
}

/** When the newest checkpoint of a document was written, and its revision (cheap: reads the last entry only). */
export function newestCheckpoint(raw: unknown): { at: number; rev: number } | undefined {
  if (!raw || typeof raw !== "object") return undefined
  const d = raw as Record<string, unknown>
  if (d.record) return { at: Number(d.at), rev: Number((d.record as SessionRecord).rev) }
  const log = d.log as unknown[] | undefined
  if (log?.length) {
    const e = JSON.parse(String(log[log.length - 1])) as LogEntry
    return { at: e.at, rev: e.rev }
  }
  if (d.base === undefined) return undefined
  const b = JSON.parse(String(d.base)) as { at: number; record: SessionRecord }
  return { at: b.at, rev: b.record.rev }
}
