import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs"
import { type FileHandle, open } from "node:fs/promises"
import { join } from "node:path"
import type { SessionRecord } from "../game/index.ts"
import { applyPatch, diff, type PatchOp } from "../protocol/index.ts"

/** One line of the journal: a session's record (stored form) as of `r`, whole (`f`) or as the diff from `b`. */
type Line = { s: string; e: number; r: number; f: SessionRecord } | { s: string; e: number; r: number; b: number; o: PatchOp[] }

/** A session as the journal last wrote it. */
export interface Journaled {
  record: SessionRecord
  epoch: number
}

/** A journal file with lines that could not be read: kept (moved aside at start), never deleted. */
export interface DamagedJournal {
  file: string
  /** 1-based numbers of the lines skipped (a torn last line, what a SIGKILL leaves, is not damage). */
  lines: number[]
  movedTo?: string
}

/** Bytes after which the journal starts a new file (whose first lines hold each session whole). */
const ROTATE_BYTES = 4 * 1024 * 1024

/**
 * The write-ahead journal of "replicated" sessions on a node with no live
 * replica: what their acks wait for. A session's automerge document is
 * written on its own schedule (coalesced checkpoints, saved by
 * automerge-repo about every 100 ms); writing it to disk per ack cost about
 * a millisecond of CPU per session (an automerge change, a save of the
 * document, a file per document). The journal instead appends one line per
 * session that changed, every such session in one write() (group commit):
 * a diff against the line before it in the same file, so each file stands
 * alone. At restart the store takes a session's record from the journal
 * when it is newer than its document (same or newer epoch, higher rev).
 *
 * A write that a SIGKILL cut short leaves at most a torn last line, which is
 * ignored: the acks of that write were never sent. Any other line that does
 * not read is damage: it is skipped (a session whose chain of diffs it broke
 * resumes at its next whole line, or from its document), and its file is
 * moved aside and named rather than deleted.
 */
export class Journal {
  readonly #dir: string
  readonly #fsync: boolean
  readonly #rotateBytes: number
  #file: FileHandle | undefined
  #number = 0
  #bytes = 0
  /** Bytes of the whole records a file starts with: a file grows to a few times that before the next. */
  #startBytes = 0
  /** Per session, what the current file last holds (the next line is a diff against it). */
  #last = new Map<string, Journaled>()

  private constructor(dir: string, fsync: boolean, rotateBytes: number) {
    this.#dir = dir
    this.#fsync = fsync
    this.#rotateBytes = rotateBytes
  }

  /** Reads what the journal in `dir` holds; `start` then begins a new file with what is kept of it. */
  static read(dir: string, fsync = false, rotateBytes = ROTATE_BYTES): { journal: Journal; recovered: Map<string, Journaled>; damaged: DamagedJournal[] } {
    mkdirSync(dir, { recursive: true })
    const journal = new Journal(dir, fsync, rotateBytes)
    const recovered = new Map<string, Journaled>()
    for (const n of journal.#files()) {
      journal.#number = Math.max(journal.#number, n)
      const file = join(dir, `${n}.log`)
      const lines = replay(readFileSync(file, "utf8"), recovered)
      if (lines.length) journal.#damaged.push({ file, lines })
    }
    return { journal, recovered, damaged: journal.#damaged }
  }

  /** Files with damaged lines found by `read`: `start` moves them here instead of deleting them. */
  #damaged: DamagedJournal[] = []

  /** Starts a new file holding `keep` whole, then deletes the older files (damaged ones are moved to `aside`). */
  async start(keep: Map<string, Journaled>, aside?: string): Promise<void> {
    const old = this.#files()
    this.#last = new Map()
    await this.#rotate([...keep].map(([id, j]) => ({ id, ...j })))
    for (const n of old) {
      const file = join(this.#dir, `${n}.log`)
      const damaged = this.#damaged.find((d) => d.file === file)
      if (damaged && aside) {
        mkdirSync(aside, { recursive: true })
        damaged.movedTo = join(aside, `${n}.log`)
        renameSync(file, damaged.movedTo)
      } else rmSync(file, { force: true })
    }
  }

  /** Appends the sessions' records (stored form) in one write; resolves once the write returned (and was synced, with fsync). */
  async append(items: { id: string; record: SessionRecord; epoch: number }[]): Promise<void> {
    if (this.#bytes > Math.max(this.#rotateBytes, 3 * this.#startBytes)) {
      // Sessions not in this write are carried over whole: the older file can then go.
      const carried = [...this.#last].filter(([id]) => !items.some((i) => i.id === id)).map(([id, j]) => ({ id, ...j }))
      const old = this.#number
      await this.#file?.close()
      this.#last = new Map()
      await this.#rotate([...carried, ...items])
      rmSync(join(this.#dir, `${old}.log`), { force: true })
      return
    }
    await this.#write(items)
  }

  /** The session is not written here any more (moved away or removed): a new file will not carry it. */
  drop(id: string): void {
    this.#last.delete(id)
  }

  async close(): Promise<void> {
    await this.#file?.close()
    this.#file = undefined
  }

  async #rotate(items: { id: string; record: SessionRecord; epoch: number }[]): Promise<void> {
    this.#number++
    this.#bytes = 0
    this.#file = await open(join(this.#dir, `${this.#number}.log`), "a")
    await this.#write(items)
    this.#startBytes = this.#bytes
    if (this.#fsync) await syncDir(this.#dir)
  }

  async #write(items: { id: string; record: SessionRecord; epoch: number }[]): Promise<void> {
    let text = ""
    for (const { id, record, epoch } of items) {
      const last = this.#last.get(id)
      const line: Line = last ? { s: id, e: epoch, r: record.rev, b: last.record.rev, o: diff(last.record, record) } : { s: id, e: epoch, r: record.rev, f: record }
      this.#last.set(id, { record, epoch })
      text += `${JSON.stringify(line)}\n`
    }
    if (!text || !this.#file) return
    const bytes = Buffer.from(text)
    this.#bytes += bytes.length
    await this.#file.write(bytes)
    if (this.#fsync) await this.#file.datasync()
  }

  #files(): number[] {
    return readdirSync(this.#dir)
      .map((f) => /^(\d+)\.log$/.exec(f)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b)
  }
}

/**
 * Applies a file's lines to `into`. Returns the numbers of the lines that do
 * not read, except an unterminated last one: that is a write a crash cut
 * short, expected, and its acks were never sent.
 */
function replay(text: string, into: Map<string, Journaled>): number[] {
  const damaged: number[] = []
  const raws = text.split("\n")
  for (const [i, raw] of raws.entries()) {
    if (!raw) continue
    let line: Line
    try {
      line = JSON.parse(raw) as Line
      if (!isLine(line)) throw new Error("not a journal line")
    } catch {
      if (i < raws.length - 1) damaged.push(i + 1)
      continue
    }
    if ("f" in line) {
      into.set(line.s, { record: line.f, epoch: line.e })
      continue
    }
    const cur = into.get(line.s)
    // Each file starts a session whole, so a diff always follows its base; anything else is not trusted.
    if (cur && cur.record.rev === line.b) into.set(line.s, { record: applyPatch(cur.record, line.o), epoch: line.e })
  }
  return damaged
}

function isLine(x: unknown): x is Line {
  if (typeof x !== "object" || x === null) return false
  const l = x as Record<string, unknown>
  if (typeof l.s !== "string" || typeof l.e !== "number" || typeof l.r !== "number") return false
  if ("f" in l) return typeof l.f === "object" && l.f !== null && (l.f as { rev?: unknown }).rev === l.r
  return typeof l.b === "number" && Array.isArray(l.o)
}

async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, "r")
  try {
    await d.sync()
  } finally {
    await d.close()
  }
}
