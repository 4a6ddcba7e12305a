/**
 * Where an idle session's memory goes, and whether automerge-repo can give it
 * back: resident memory per document for 1,000 documents shaped like a
 * session's, held three ways, each in a fresh process.
 *
 *   bun tests/bench/handle-memory.ts            (all three modes)
 *   bun tests/bench/handle-memory.ts <mode>     (one: automerge | repo | removed | closed)
 *
 * - automerge: `Automerge.from` alone (the document itself)
 * - repo:      `repo.create` (the document plus automerge-repo's handle)
 * - removed:   `repo.create` in an in-memory storage, then `repo.removeFromCache`
 *              (automerge-repo's only way to drop a handle but keep the document),
 *              three rounds of 1,000; then the first document is found again.
 * - closed:    the same with the store's closeHandle (framework/store/parking.ts:
 *              the handle's listeners removed first), as the store parks an idle
 *              session's document.
 */
import { heapStats } from "bun:jsc"
import * as A from "@automerge/automerge"
import { type AutomergeUrl, type Chunk, Repo, type StorageAdapterInterface, type StorageKey } from "@automerge/automerge-repo"
import { closeHandle } from "../../framework/store/parking.ts"

const N = 1000
const MODES = ["automerge", "repo", "removed", "closed"] as const
type Mode = (typeof MODES)[number]

/** What a session document holds, at its size (see framework/store/session-doc.ts). */
const base = JSON.stringify({ id: "s", game: "counter", state: { players: { p1: { count: 0 }, p2: { count: 0 } }, total: 0 }, players: [], ledgers: {}, timers: [], rev: 0 })
const sessionDoc = () => ({ v: 2, epoch: 1, base, log: [] as string[] })

class MemoryStorage implements StorageAdapterInterface {
  readonly chunks = new Map<string, Chunk>()
  async load(key: StorageKey) {
    return this.chunks.get(key.join("/"))?.data
  }
  async save(key: StorageKey, data: Uint8Array) {
    this.chunks.set(key.join("/"), { key, data })
  }
  async remove(key: StorageKey) {
    this.chunks.delete(key.join("/"))
  }
  async loadRange(prefix: StorageKey) {
    const p = prefix.join("/")
    return [...this.chunks.entries()].filter(([k]) => k.startsWith(p)).map(([, c]) => c)
  }
  async removeRange(prefix: StorageKey) {
    for (const c of await this.loadRange(prefix)) this.chunks.delete(c.key.join("/"))
  }
}

const rssKb = () => process.memoryUsage().rss / 1024

/** Collects until resident memory stops falling (finalizers free automerge's wasm documents). */
async function settle(): Promise<number> {
  let last = Number.POSITIVE_INFINITY
  for (let i = 0; i < 20; i++) {
    Bun.gc(true)
    await Bun.sleep(150)
    const now = rssKb()
    if (now >= last - 64) return now
    last = now
  }
  return last
}

async function measure(mode: Mode): Promise<Record<string, unknown>> {
  const before = await settle()
  const kbPerDoc = (after: number) => Math.round(((after - before) / N) * 10) / 10
  if (mode === "automerge") {
    const docs = Array.from({ length: N }, () => A.from(sessionDoc()))
    const after = await settle()
    return { mode, documents: docs.length, kbPerDocument: kbPerDoc(after) }
  }
  if (mode === "repo") {
    const repo = new Repo({ network: [] })
    const handles = Array.from({ length: N }, () => repo.create(sessionDoc()))
    const after = await settle()
    return { mode, documents: handles.length, kbPerDocument: kbPerDoc(after) }
  }
  const repo = new Repo({ network: [], storage: new MemoryStorage() })
  const rounds: number[] = []
  const objects: number[] = []
  let first: AutomergeUrl | undefined
  for (let round = 0; round < 3; round++) {
    first ??= await createAndDrop(repo, mode)
    rounds.push(kbPerDoc(await settle()))
    objects.push(Math.round(heapStats().objectCount / ((round + 1) * N)))
  }
  const found = await repo.find<ReturnType<typeof sessionDoc>>(first as AutomergeUrl)
  return {
    mode,
    handlesLeft: Object.keys(repo.handles).length,
    // Resident memory per document created so far, after each round of 1,000 was removed from the cache.
    kbPerRemovedDocumentAfterRounds: rounds.map((kb, i) => Math.round((kb / (i + 1)) * 10) / 10),
    // Live JS objects per document created so far (a handle is ~560): what is still held, whatever the allocators keep.
    objectsPerDocumentAfterRounds: objects,
    foundAgainHoldsTheSession: found.doc()?.v === 2,
  }
}

/** 1,000 documents created, saved and dropped from the repo; the first one's URL. (A function of its own: nothing of it outlives it.) */
async function createAndDrop(repo: Repo, mode: Mode): Promise<AutomergeUrl | undefined> {
  const handles = Array.from({ length: N }, () => repo.create(sessionDoc()))
  const first = handles[0]?.url
  await repo.flush()
  for (const h of handles) {
    if (mode === "closed") await closeHandle(repo, h).closed
    else await repo.removeFromCache(h.documentId)
  }
  return first
}

if (import.meta.main) {
  const mode = process.argv[2] as Mode | undefined
  if (mode) {
    if (!MODES.includes(mode)) throw new Error(`unknown mode "${mode}": use one of ${MODES.join(", ")}`)
    console.log(JSON.stringify(await measure(mode)))
    process.exit(0) // automerge-repo keeps 60 s timers for the documents it failed to find again
  } else {
    for (const m of MODES) {
      // A fresh process per mode: wasm memory never shrinks, so modes would measure each other.
      const proc = Bun.spawn(["bun", import.meta.path, m], { stdout: "pipe", stderr: "ignore" })
      // Only the result line: automerge-repo logs an error per removed document it is asked about.
      const out = await new Response(proc.stdout).text()
      console.log(out.split("\n").find((l) => l.startsWith("{")) ?? `{"mode":"${m}","error":"no result"}`)
      await proc.exited
    }
  }
}
