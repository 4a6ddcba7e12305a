import "./no-native-cbor.ts"
import { mkdir, rename } from "node:fs/promises"
import { dirname, join, relative } from "node:path"
import { free, init, loadIncremental } from "@automerge/automerge"
import type { Chunk, StorageAdapterInterface, StorageKey } from "@automerge/automerge-repo"

/** A file of the data dir that could not be read, and where it was moved. */
export interface DamagedFile {
  /** The automerge document the file is a chunk of ("" for the storage id). */
  document: string
  file: string
  movedTo: string
  why: string
}

/**
 * automerge-repo-storage-nodefs, with every document chunk checked as it is
 * loaded. automerge-repo loads a document's chunks as one byte string: one
 * truncated, garbage or empty chunk made the whole load throw (a parse error
 * naming no file) and left a handle that could never be ready, which failed
 * every later `repo.flush()`. A chunk that does not parse on its own is
 * moved under `aside` (never deleted: it is the operator's data) and
 * reported; the document loads from the chunks that remain. A truncated
 * newest chunk is what a crash during a save leaves, and automerge-repo
 * removes the chunks a snapshot replaces only after the snapshot is written,
 * so the chunks that remain often hold everything.
 */
export class CheckedStorage implements StorageAdapterInterface {
  readonly #inner: StorageAdapterInterface
  readonly #dir: string
  readonly #aside: string
  readonly #onDamage: (file: DamagedFile) => void

  /** `inner` stores the files under `dir` (the nodefs adapter, or one writing atomically over it). */
  constructor(inner: StorageAdapterInterface, dir: string, aside: string, onDamage: (file: DamagedFile) => void) {
    this.#inner = inner
    this.#dir = dir
    this.#aside = aside
    this.#onDamage = onDamage
  }

  /** Where the chunks of documents live (one folder per document under two-character folders). */
  get dir(): string {
    return this.#dir
  }

  async load(key: StorageKey): Promise<Uint8Array | undefined> {
    const data = await this.#inner.load(key)
    // automerge-repo takes this file's text as the node's storage id, whatever it holds.
    if (data && key.length === 1 && key[0] === "storage-adapter-id" && !UUID.test(new TextDecoder().decode(data))) {
      await this.#setAside(key, "", data.length === 0 ? "empty file" : "not a storage id")
      return undefined
    }
    return data
  }

  save(key: StorageKey, data: Uint8Array): Promise<void> {
    return this.#inner.save(key, data)
  }

  remove(key: StorageKey): Promise<void> {
    return this.#inner.remove(key)
  }

  removeRange(prefix: StorageKey): Promise<void> {
    return this.#inner.removeRange(prefix)
  }

  async loadRange(prefix: StorageKey): Promise<Chunk[]> {
    const out: Chunk[] = []
    for (const chunk of await this.#inner.loadRange(prefix)) {
      const why = chunk.data && isDocumentChunk(chunk.key) ? damageOf(chunk.data) : undefined
      if (why) await this.#setAside(chunk.key, chunk.key[0] as string, why)
      else out.push(chunk)
    }
    return out
  }

  /** Moves a document's chunks that are still in place aside (a registry that is rebuilt rather than merged with what is left of it). */
  async setAsideAll(document: string, why: string): Promise<void> {
    for (const chunk of await this.#inner.loadRange([document])) if (isDocumentChunk(chunk.key)) await this.#setAside(chunk.key, document, why)
  }

  async #setAside(key: StorageKey, document: string, why: string): Promise<void> {
    // The adapter's layout: the document id's first two characters, the rest, then the chunk's key.
    const [first = "", ...rest] = key
    const file = join(this.#dir, first.slice(0, 2), first.slice(2), ...rest)
    const movedTo = join(this.#aside, relative(this.#dir, file))
    await mkdir(dirname(movedTo), { recursive: true })
    await rename(file, movedTo)
    // (A damaged chunk comes from disk: the adapter caches only what this process saved.)
    this.#onDamage({ document, file, movedTo, why })
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Snapshot and incremental chunks; sync states are checked by automerge-repo itself (a bad one is dropped). */
function isDocumentChunk(key: StorageKey): boolean {
  return key.length === 3 && (key[1] === "snapshot" || key[1] === "incremental")
}

/** Why a chunk cannot be loaded, or undefined when it can. automerge-repo never writes an empty chunk. */
export function damageOf(data: Uint8Array): string | undefined {
  if (data.length === 0) return "empty file"
  const cut = truncation(data)
  if (cut) return cut
  try {
    free(loadIncremental(init(), data))
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
}

const MAGIC = [0x85, 0x6f, 0x4a, 0x83]

/**
 * A file is a run of automerge chunks (magic, checksum, type, LEB128 length,
 * contents). automerge parses a truncated run without an error: it keeps
 * the whole changes before the cut, or, in the one byte string automerge-repo
 * loads, silently drops everything from the cut on, the other files' chunks
 * after it included. So the run is walked here and must end exactly at the
 * end of the file.
 */
function truncation(data: Uint8Array): string | undefined {
  let at = 0
  while (at < data.length) {
    for (let i = 0; i < MAGIC.length; i++) if (data[at + i] !== MAGIC[i]) return at + i < data.length ? `no automerge chunk at byte ${at}` : `truncated at byte ${data.length}`
    let p = at + 9
    let length = 0
    for (let shift = 0; ; shift += 7) {
      if (p >= data.length || shift > 49) return `truncated at byte ${data.length}, in the header of the chunk at byte ${at}`
      const b = data[p++] as number
      length += (b & 0x7f) * 2 ** shift
      if ((b & 0x80) === 0) break
    }
    if (p + length > data.length) return `truncated: the chunk at byte ${at} ends at byte ${p + length}, the file at byte ${data.length}`
    at = p + length
  }
  return undefined
}
