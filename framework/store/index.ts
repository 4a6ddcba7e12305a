/** automerge-repo at the edge of the runtime: session documents, checkpoints, compaction, the registry. */
export { Store, type StoreOptions, type RegistryDoc, type RegistryEntry } from "./store.ts"
export { type SessionDoc, type SessionCopy, readSessionDoc, newestCheckpoint, toStored, fromStored } from "./session-doc.ts"
