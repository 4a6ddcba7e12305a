import { change, init, save } from "@automerge/automerge"
import type { AutomergeUrl } from "@automerge/automerge-repo"

export interface RegistryEntry {
  game: string
  doc: AutomergeUrl
  owner: string
  epoch: number
  status: "open" | "ended"
  updatedAt: number
}

/**
 * The registry document. Entries live in 256 bucket maps ("@00" … "@ff", by
 * a hash of the session id): automerge's JS side copies a changed map whole,
 * so with one key per session at the root a change cost time in proportion to
 * the cluster's sessions (tests/bench/registry-change.ts). Nodes from before
 * the buckets read and write entries at the root ("flat"); see `readEntryOf`
 * for how the two are read together during a rolling deploy.
 */
export type RegistryDoc = Record<string, unknown>

/** What an entry holds in the document: `mirrored` marks a bucketed entry that has a flat copy. */
export type StoredEntry = RegistryEntry & { mirrored?: boolean }

export const BUCKET_COUNT = 256

const bucketName = (i: number) => `@${i.toString(16).padStart(2, "0")}`

/** The bucket of a session's entry: FNV-1a of the id (stable across versions; ids are random already). */
export function bucketOf(id: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193)
  return bucketName(h & 0xff)
}

/** Session ids never start with "@" (node.ts newSessionId), so a root key is either a bucket or a flat entry. */
export function isBucket(key: string): boolean {
  return key.length === 3 && key.startsWith("@")
}

/**
 * The change that creates the buckets, byte for byte the same on every node
 * (fixed actor, time 0), so every copy of the registry has it under one hash
 * and the buckets are the same maps everywhere. Two nodes each creating a map
 * at one key would leave one of the two hidden, with its entries.
 */
export const BUCKETS: Uint8Array = save(
  change(init<Record<string, object>>({ actor: "0".repeat(32) }), { time: 0, message: "baton registry buckets" }, (d) => {
    for (let i = 0; i < BUCKET_COUNT; i++) d[bucketName(i)] = {}
  }),
)

export function hasBuckets(doc: RegistryDoc | undefined): boolean {
  return !!doc && typeof doc[bucketName(0)] === "object" && typeof doc[bucketName(BUCKET_COUNT - 1)] === "object"
}

/**
 * A session's entry as plain values, read from its bucket and its flat copy:
 * - only one of the two: that one; but a bucketed entry marked `mirrored`
 *   whose flat copy is gone was removed (an older node removes the flat one only);
 * - both: the newer (higher epoch; then "ended"; then the later write).
 */
export function readEntryOf(doc: RegistryDoc, id: string): RegistryEntry | undefined {
  const bucket = doc[bucketOf(id)] as Record<string, unknown> | undefined
  const inBucket = readStored(bucket?.[id])
  const flat = readStored(doc[id])
  if (!inBucket) return flat && plain(flat)
  if (!flat) return inBucket.mirrored ? undefined : plain(inBucket)
  if (inBucket.epoch !== flat.epoch) return plain(inBucket.epoch > flat.epoch ? inBucket : flat)
  if (inBucket.status !== flat.status) return plain(inBucket.status === "ended" ? inBucket : flat)
  return plain(flat.updatedAt > inBucket.updatedAt ? flat : inBucket)
}

/** Every session id with an entry in the document, bucketed or flat (some may read as removed). */
export function idsIn(doc: RegistryDoc): Set<string> {
  const ids = new Set<string>()
  for (const [key, value] of Object.entries(doc)) {
    if (!isBucket(key)) ids.add(key)
    else if (value && typeof value === "object") for (const id of Object.keys(value)) ids.add(id)
  }
  return ids
}

/**
 * A stored entry, or undefined when the value is not one (a removed entry, or
 * something a newer or broken writer put there): a node must not take such a
 * value for a session and try to follow or adopt it. Field by field, since
 * that beats a JSON round trip.
 */
function readStored(raw: unknown): StoredEntry | undefined {
  if (raw === null || typeof raw !== "object") return undefined
  const e = raw as Record<string, unknown>
  const doc = String(e.doc ?? "")
  const epoch = Number(e.epoch)
  const status = String(e.status ?? "")
  if (!doc.startsWith("automerge:") || e.game === undefined || e.owner === undefined || !Number.isFinite(epoch)) return undefined
  if (status !== "open" && status !== "ended") return undefined
  return { game: String(e.game), doc: doc as AutomergeUrl, owner: String(e.owner), epoch, status, updatedAt: Number(e.updatedAt ?? 0), mirrored: e.mirrored === true }
}

function plain({ mirrored: _, ...entry }: StoredEntry): RegistryEntry {
  return entry
}
