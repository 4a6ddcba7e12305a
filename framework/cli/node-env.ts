import { discoveryFromEnv } from "../cluster/index.ts"
import type { StartNodeOptions } from "../server/index.ts"

type Env = Record<string, string | undefined>

/** Used only in dev mode, where a cluster secret would be a chore; never outside it. */
const DEV_SECRET = "baton-dev-insecure-secret"

/**
 * A node's configuration from the environment (see README, "Running a
 * node"). Throws with the variable's name and value when one is wrong.
 */
export function nodeOptionsFromEnv(env: Env, port: number, dev = env.BATON_DEV === "1"): Omit<StartNodeOptions, "games" | "pages"> {
  const discovery = discoveryFromEnv(env, port)
  const wantsPeers = discovery.peers.length > 0 || !!discovery.dns
  let secret = env.BATON_CLUSTER_SECRET || undefined
  if (!secret && dev) secret = DEV_SECRET
  if (!secret && wantsPeers)
    throw new Error("refusing to form a multi-node cluster without BATON_CLUSTER_SECRET (set it on every node; BATON_DEV=1 allows none)")
  const replicasText = env.BATON_REPLICAS ?? "2"
  const replicas = replicasText === "all" ? "all" : Number(replicasText)
  if (replicas !== "all" && !(Number.isInteger(replicas) && replicas >= 1))
    throw new Error(`BATON_REPLICAS must be a positive integer or "all", got "${replicasText}"`)
  return {
    dataDir: env.BATON_DATA_DIR || undefined,
    fsync: env.BATON_FSYNC === "1",
    log: (env.BATON_LOG as "json" | "pretty" | undefined) ?? (dev ? "pretty" : "json"),
    idleMs: ms(env, "BATON_IDLE_MS"),
    lingerMs: ms(env, "BATON_LINGER_MS"),
    sweepMs: ms(env, "BATON_SWEEP_MS"),
    graceMs: ms(env, "BATON_GRACE_MS"),
    maxSessions: num(env, "BATON_MAX_SESSIONS"),
    checkpointMs: ms(env, "BATON_CHECKPOINT_MS"),
    adminToken: env.BATON_ADMIN_TOKEN || undefined,
    playerSecret: env.BATON_PLAYER_SECRET || undefined,
    limits: {
      framesPerSecond: num(env, "BATON_FRAMES_PER_SECOND"),
      maxBufferedBytes: num(env, "BATON_MAX_BUFFERED_BYTES"),
    },
    cluster: secret
      ? {
          secret,
          discovery,
          version: env.BATON_APP_VERSION || "0",
          url: env.BATON_ADVERTISE_URL || undefined,
          replicas,
          heartbeatMs: ms(env, "BATON_HEARTBEAT_MS"),
          failureMs: ms(env, "BATON_FAILURE_MS"),
        }
      : undefined,
  }
}

function num(env: Env, name: string): number | undefined {
  const text = env[name]
  if (text === undefined || text === "") return undefined
  const n = Number(text)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${text}"`)
  return n
}

function ms(env: Env, name: string): number | undefined {
  const text = env[name]
  if (text === undefined || text === "") return undefined
  const n = Number(text)
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number of milliseconds, got "${text}"`)
  return n
}
