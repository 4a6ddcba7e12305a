/** automerge-repo at the edge of the runtime: session documents, checkpoints, compaction, the registry. */
export { type DataDirEvent, Store, type StoreOptions } from "./store.ts"
export type { RegistryDoc, RegistryEntry } from "./registry.ts"
export { type SessionDoc, type SessionCopy, readSessionDoc, newestCheckpoint, toStored, fromStored } from "./session-doc.ts"
export { newerCopy, newestCopy, type CopyVersion } from "./newest.ts"
