import "./no-native-cbor.ts"
import { clone, type Doc, free, from, getActorId, load, save } from "@automerge/automerge"
import { type AutomergeUrl, type DocHandle, type DocumentId, generateAutomergeUrl, parseAutomergeUrl, type Repo } from "@automerge/automerge-repo"

/**
 * A session's document is open (an automerge-repo DocHandle) only while it
 * has something to sync: a new one starts parked, and one left idle is
 * parked again. Parked, it is its saved bytes (a few hundred bytes to a few
 * KB), in memory and, with a data dir, on disk. An open handle costs ~70 KB
 * of the node's memory (its xstate machine, its synchronizer, the wasm
 * document and an empty one the machine keeps; docs/benchmarks.md,
 * "Footprint"): it was most of what an idle session cost. Opening takes
 * about what creating a document took (~1.5 ms), once per burst of activity.
 */

/** How long a session's document stays open after it was last written or asked for by a peer, ms. */
export const PARK_AFTER_MS = 30_000

/**
 * The same for a session that runs on this node with nobody connected (its
 * players left, or have not come yet), ms. Sessions played and left in a
 * burst otherwise stayed open together for PARK_AFTER_MS, and the memory
 * they took is kept once they park (the allocators and wasm memory keep
 * their high-water mark): 1,000 sessions played once left ~73 KB per
 * session where an idle one needs ~30. A player who comes back reopens the
 * document at the next checkpoint.
 */
export const QUIET_PARK_AFTER_MS = 2_000

/**
 * A handle may be closed only this long after it last opened or changed,
 * ms, counted up to the previous look for documents to park (a timer
 * before this one, in the runtime's time whatever the store's clock says):
 * automerge-repo syncs and saves a changed document on a timer 100 ms after
 * the change, and a synchronizer whose timer finds its handle closed waits a
 * minute for it, holding the whole handle (automerge-repo issue 435). A
 * timer due earlier runs earlier, however late a blocked event loop runs
 * both; a look is armed after the one before it ended (setTimeout, not
 * setInterval), so it is due after every timer the previous look saw due.
 */
export const SETTLE_MS = 250

/**
 * Documents to park are looked for this often, ms: a look that finds none
 * costs nothing (it stops at the first document not idle), and one round
 * parks what its time budget allows (~25 at 8 ms), so that a thousand
 * documents that went idle together are parked within seconds.
 */
export const PARK_EVERY_MS = 100

/** The document id of an automerge URL (what the repo's caches and storage are keyed by). */
export function docIdOf(url: AutomergeUrl): DocumentId {
  return parseAutomergeUrl(url).documentId
}

/** A new document holding `value`, as its bytes, and the URL it takes when it opens (`repo.create` would build the same document). */
export function parkedDocument(value: Record<string, unknown>): { url: AutomergeUrl; bytes: Uint8Array; actor: string } {
  const doc = from(value)
  try {
    return { url: generateAutomergeUrl(), bytes: save(doc), actor: getActorId(doc) }
  } finally {
    free(doc)
  }
}

/**
 * Opens a parked document: a handle that the repo saves and syncs like any
 * other from now on. `actor`: the one that wrote it before it was parked
 * (the bytes hold every change it made), so that a document opened after
 * every pause does not gain an actor each time (3× the size after 200).
 */
export function openParked<T>(repo: Repo, url: AutomergeUrl, bytes: Uint8Array, actor?: string): DocHandle<T> {
  const docId = docIdOf(url)
  // A handle already in the repo (a peer's find got here first) has listeners that may hold its document.
  const fresh = !repo.handles[docId]
  const handle = repo.import<T>(bytes, { docId })
  if (!handle.isReady()) handle.doneLoading()
  if (actor) {
    const loaded = handle.doc()
    handle.update((doc) => clone(doc, { actor }))
    if (fresh) free(loaded) // see freeWhenDone
  }
  return handle
}

/**
 * Closes a document's handle and returns its bytes. automerge-repo's
 * `removeFromCache` frees the handle and its synchronizer, but it first
 * unloads the handle (its document becomes an empty one), and the handle's
 * own listeners would then save that empty document over the stored one
 * (automerge-repo issue 435): the listeners go first. The removal ends in
 * microtasks (no timer or I/O callback runs before it); until then the
 * document must not be opened again, or the reopened handle is the one
 * being unloaded (`closed` says when).
 */
export function closeHandle(repo: Repo, handle: DocHandle<unknown>): { bytes: Uint8Array; actor: string; doc: Doc<unknown>; closed: Promise<void> } {
  const doc = handle.doc()
  const bytes = save(doc)
  handle.removeAllListeners()
  return { bytes, actor: getActorId(doc), doc, closed: repo.removeFromCache(handle.documentId) }
}

/**
 * Frees a wasm document once `done` settles. automerge's wasm documents are
 * freed by a FinalizationRegistry, after a garbage collection that nothing
 * in wasm memory prompts: documents opened and parked in a burst stayed
 * allocated together, and wasm memory never shrinks (1,000 sessions played
 * once grew it by ~9 MB where freeing each document when its handle lets go
 * of it keeps it near what the most open at once need). Only for a repo
 * without storage: automerge-repo's own throttled save of a closed handle
 * holds its last document, and may still be due or running once the handle
 * is gone (it re-arms only after the save before it ends, however slow the
 * disk): freed, that save would throw.
 */
export function freeWhenDone(doc: Doc<unknown>, done: Promise<unknown>): void {
  const release = () => {
    try {
      free(doc)
    } catch {
      // Freed already: nothing held.
    }
  }
  done.then(release, release)
}

/** Reads a parked document's value with `read`, and frees the wasm document after. */
export function readParked<R>(bytes: Uint8Array, read: (doc: unknown) => R): R {
  const doc = load(bytes)
  try {
    return read(doc)
  } finally {
    free(doc)
  }
}
