/** automerge-repo at the edge of the runtime: session documents, checkpoints, compaction, the registry. */
export { Store, type StoreOptions, type SessionDoc, type RegistryDoc, type RegistryEntry } from "./store.ts"
export { toAutomerge, fromAutomerge, applyOpsToDoc } from "./automerge-json.ts"
