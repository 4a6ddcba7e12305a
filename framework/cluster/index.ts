/**
 * Everything between nodes: membership and failure detection, links and
 * their auth, discovery, placement, the peer protocol, relaying players,
 * replica following, replication, handoff, failover and fencing. The node
 * (framework/node) is the lone node; it joins a cluster through ClusterRole
 * and offers it one internal port (NodePort).
 */
export { ClusterRole, type ClusterConfig } from "./role.ts"
export { lostMessage } from "./relay.ts"
export type { NodePort, ReplicatedSession } from "./port.ts"
export { Cluster, type ClusterOptions, type Member, type ClusterEvents, type Quorum } from "./cluster.ts"
export { systemClock, systemTimers, type Clock, type Timers } from "./clock.ts"
export type { Link, LinkHandlers, AcceptedLink } from "./link.ts"
export { acceptedLink, type ServerLink } from "./bun-links.ts"
export { bunTransport, Refused, type Transport } from "./transport.ts"
export type { MemberStatus } from "./control.ts"
export { type Discovery, discoveryFromEnv } from "./discovery.ts"
export { isMajority, majorityAnchor } from "./quorum.ts"
export { rank, replicaSet, compareVersions, newestVersion, type Candidate } from "./placement.ts"
export { meshNeighbours, FULL_MESH_UP_TO } from "./mesh.ts"
export { signLink, LinkVerifier, TOKEN_TTL_MS, type LinkAuth, type LinkKind, type RefusalCode } from "./auth.ts"
export type { MoveResult, DrainReport } from "./handoff.ts"
export { Takeover, type GrantRequest, type GrantAnswer } from "./takeover.ts"
