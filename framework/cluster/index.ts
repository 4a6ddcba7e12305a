/** The cluster: membership, control and sync links, discovery, placement. */
export { Cluster, type ClusterOptions, type Member, type ClusterEvents, type Quorum } from "./cluster.ts"
export { systemTimers, type Timers } from "./timers.ts"
export type { MemberStatus } from "./control.ts"
export { type Discovery, discoveryFromEnv } from "./discovery.ts"
export { isMajority, majorityAnchor } from "./quorum.ts"
export { rank, replicaSet, compareVersions, newestVersion, type Candidate } from "./placement.ts"
export { signLink, LinkVerifier, TOKEN_TTL_MS, type LinkAuth, type LinkKind, type RefusalCode } from "./auth.ts"
