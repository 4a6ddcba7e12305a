import { randomUUID } from "node:crypto"
import { mkdir, open, readdir, rename, rm, stat, writeFile } from "node:fs/promises"
import { dirname, join } from "node:path"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"

type Key = string[]
/** Temporary files older than this are a killed process's left-overs, ms. */
const STALE_TMP_MS = 60_000
/** What NodeFSStorageAdapter keeps private but a subclass that only changes how a file is written needs. */
type Inner = { cache: Record<string, Uint8Array>; getFilePath(key: Key): string }

/**
 * automerge-repo-storage-nodefs with writes that a crash cannot tear. The
 * stock adapter truncates a chunk file and then writes it: a process killed
 * in between leaves a short or empty chunk, and one unparsable chunk makes
 * the whole document unloadable. Here a chunk is written to a temporary file
 * outside the adapter's directory (its loadRange reads every file under it)
 * and renamed into place, which is atomic.
 *
 * A SIGKILL needs no fsync: a write() that returned is in the kernel's page
 * cache, which outlives the process. Power loss or a kernel crash does need
 * it; with `fsync` each chunk and its directory are synced before the rename
 * counts as saved (slower: see docs/benchmarks.md, "Durability on disk").
 */
export class AtomicFSStorageAdapter extends NodeFSStorageAdapter {
  readonly #tmpRoot: string
  /** This adapter's own temporary directory: another adapter on the same data dir never clears it. */
  readonly #tmp: string
  readonly #fsync: boolean
  #tmpReady: Promise<unknown> | undefined

  constructor(baseDirectory: string, tmpDirectory: string, fsync = false) {
    super(baseDirectory)
    this.#tmpRoot = tmpDirectory
    this.#tmp = join(tmpDirectory, randomUUID())
    this.#fsync = fsync
  }

  /**
   * Left-overs of a killed process are never read (they are outside the base
   * directory): cleared once they are a minute old. A fresh one may belong to
   * another adapter still writing on this data dir (a test that opens a
   * store again in one process: clearing the whole directory under it lost
   * a rename once).
   */
  async #prepare(): Promise<void> {
    await mkdir(this.#tmp, { recursive: true })
    const entries = await readdir(this.#tmpRoot).catch(() => [] as string[])
    await Promise.all(
      entries.map(async (name) => {
        const path = join(this.#tmpRoot, name)
        if (path === this.#tmp) return
        const info = await stat(path).catch(() => undefined)
        if (info && Date.now() - info.mtimeMs > STALE_TMP_MS) await rm(path, { recursive: true, force: true })
      }),
    )
  }

  override async save(key: Key, binary: Uint8Array): Promise<void> {
    const inner = this as unknown as Inner
    inner.cache[join(...key)] = binary
    const path = inner.getFilePath(key)
    this.#tmpReady ??= this.#prepare()
    await Promise.all([this.#tmpReady, mkdir(dirname(path), { recursive: true })])
    const tmp = join(this.#tmp, randomUUID())
    if (!this.#fsync) {
      await writeFile(tmp, binary)
      await rename(tmp, path)
      return
    }
    const file = await open(tmp, "w")
    try {
      await file.writeFile(binary)
      await file.sync()
    } finally {
      await file.close()
    }
    await rename(tmp, path)
    const dir = await open(dirname(path), "r")
    try {
      await dir.sync()
    } finally {
      await dir.close()
    }
  }
}
