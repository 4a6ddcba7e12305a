import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs"
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
 * ignored: the acks of that write were never sent.
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
  static read(dir: string, fsync = false, rotateBytes = ROTATE_BYTES): { journal: Journal; recovered: Map<string, Journaled> } {
    mkdirSync(dir, { recursive: true })
    const journal = new Journal(dir, fsync, rotateBytes)
    const recovered = new Map<string, Journaled>()
    for (const n of journal.#files()) {
      journal.#number = Math.max(journal.#number, n)
      replay(readFileSync(join(dir, `${n}.log`), "utf8"), recovered)
    }
    return { journal, recovered }
  }

  /** Starts a new file holding `keep` whole, then deletes the older files. */
  async start(keep: Map<string, Journaled>): Promise<void> {
    const old = this.#files()
    this.#last = new Map()
    await this.#rotate([...keep].map(([id, j]) => ({ id, ...j })))
    for (const n of old) rmSync(join(this.#dir, `${n}.log`), { force: true })
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

/** Applies a file's lines to `into`; stops at the first line that does not parse (a torn write, the last one). */
function replay(text: string, into: Map<string, Journaled>): void {
  for (const raw of text.split("\n")) {
    if (!raw) continue
    let line: Line
    try {
      line = JSON.parse(raw) as Line
    } catch {
      return
    }
    if ("f" in line) {
      into.set(line.s, { record: line.f, epoch: line.e })
      continue
    }
    const cur = into.get(line.s)
    // Each file starts a session whole, so a diff always follows its base; anything else is not trusted.
    if (cur && cur.record.rev === line.b) into.set(line.s, { record: applyPatch(cur.record, line.o), epoch: line.e })
  }
}

async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, "r")
  try {
    await d.sync()
  } finally {
    await d.close()
  }
}
