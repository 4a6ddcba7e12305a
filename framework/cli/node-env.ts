import { readFileSync } from "node:fs"
import { discoveryFromEnv } from "../cluster/index.ts"
import type { StartNodeOptions } from "../server/index.ts"

type Env = Record<string, string | undefined>

/** Used only in dev mode, where a cluster secret would be a chore; never outside it. */
const DEV_SECRET = "baton-dev-insecure-secret"

/**
 * A node's configuration from the environment (see
 * docs/operations.md). Throws with the variable's name and value when one is wrong.
 */
export function nodeOptionsFromEnv(env: Env, port: number, dev = env.BATON_DEV === "1"): Omit<StartNodeOptions, "games" | "pages"> {
  const discovery = discoveryFromEnv(env, port)
  const wantsPeers = discovery.peers.length > 0 || !!discovery.dns
  let secret = env.BATON_CLUSTER_SECRET || undefined
  if (!secret && dev) secret = DEV_SECRET
  if (!secret && wantsPeers)
    throw new Error("refusing to form a multi-node cluster without BATON_CLUSTER_SECRET (set it on every node; BATON_DEV=1 allows none)")
  const adminPort = portOf(env, "BATON_ADMIN_PORT")
  if (adminPort !== undefined && adminPort !== 0 && adminPort === port)
    throw new Error(`BATON_ADMIN_PORT must differ from PORT (${port}): the operators' listener is a port of its own`)
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
    linkRefusalWindowMs: ms(env, "BATON_LINK_REFUSAL_WINDOW_MS"),
    graceMs: ms(env, "BATON_GRACE_MS"),
    maxSessions: num(env, "BATON_MAX_SESSIONS"),
    checkpointMs: ms(env, "BATON_CHECKPOINT_MS"),
    unjoinedMs: ms(env, "BATON_UNJOINED_MS"),
    adminToken: env.BATON_ADMIN_TOKEN || undefined,
    adminPort,
    adminHost: env.BATON_ADMIN_HOST || undefined,
    operatorViews: choice(env, "BATON_OPERATOR_VIEWS", ["open", "token"]),
    createsPerMinute: count(env, "BATON_CREATES_PER_MINUTE"),
    tls: tlsFromEnv(env),
    trustProxy: env.BATON_TRUST_PROXY === "1",
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
          leaseMs: ms(env, "BATON_LEASE_MS"),
          linkTtlMs: num(env, "BATON_LINK_TTL_MS"),
          rebalanceMs: ms(env, "BATON_REBALANCE_MS"),
        }
      : undefined,
  }
}

/** BATON_TLS_CERT / BATON_TLS_KEY: PEM files, both or neither. */
function tlsFromEnv(env: Env): { cert: string; key: string } | undefined {
  const cert = env.BATON_TLS_CERT || undefined
  const key = env.BATON_TLS_KEY || undefined
  if (!cert && !key) return undefined
  if (!cert || !key) throw new Error("BATON_TLS_CERT and BATON_TLS_KEY go together (PEM files of the certificate and its key)")
  const read = (name: string, path: string) => {
    try {
      return readFileSync(path, "utf8")
    } catch (error) {
      throw new Error(`${name}: cannot read "${path}" (${(error as NodeJS.ErrnoException).code ?? "unreadable"})`)
    }
  }
  return { cert: read("BATON_TLS_CERT", cert), key: read("BATON_TLS_KEY", key) }
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

function count(env: Env, name: string): number | undefined {
  const text = env[name]
  if (text === undefined || text === "") return undefined
  const n = Number(text)
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number (0 turns it off), got "${text}"`)
  return n
}

function portOf(env: Env, name: string): number | undefined {
  const n = count(env, name)
  if (n !== undefined && n > 65535) throw new Error(`${name} must be a port 0-65535, got "${env[name]}"`)
  return n
}

function choice<T extends string>(env: Env, name: string, allowed: readonly T[]): T | undefined {
  const text = env[name]
  if (text === undefined || text === "") return undefined
  if (!allowed.includes(text as T)) throw new Error(`${name} must be ${allowed.map((a) => `"${a}"`).join(" or ")}, got "${text}"`)
  return text as T
}
