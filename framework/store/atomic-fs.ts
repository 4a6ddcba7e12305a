import { randomUUID } from "node:crypto"
import { mkdir, open, rename, rm, writeFile } from "node:fs/promises"
import { dirname, join } from "node:path"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"

type Key = string[]
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
  readonly #tmp: string
  readonly #fsync: boolean
  #tmpReady: Promise<unknown> | undefined

  constructor(baseDirectory: string, tmpDirectory: string, fsync = false) {
    super(baseDirectory)
    this.#tmp = tmpDirectory
    this.#fsync = fsync
  }

  override async save(key: Key, binary: Uint8Array): Promise<void> {
    const inner = this as unknown as Inner
    inner.cache[join(...key)] = binary
    const path = inner.getFilePath(key)
    // Left-overs of a killed process are never read (they are outside the base directory): clear them once.
    this.#tmpReady ??= rm(this.#tmp, { recursive: true, force: true }).then(() => mkdir(this.#tmp, { recursive: true }))
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
