import { systemClock } from "./clock.ts"
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto"

/**
 * Cluster links carry a token on their upgrade URL:
 * `?node=FROM&to=TO&kind=KIND&ts=MS&nonce=N&sig=HMAC(secret, "FROM.TO.KIND.MS.N")`.
 * The secret never travels. A token names who dials, which node it is for and
 * which link (control or sync), is good for a short time, and is good once:
 * the receiving node remembers the nonces it accepted until they expire, so a
 * captured URL cannot be replayed to it, nor to any other node.
 */
export const TOKEN_TTL_MS = 60_000

export type LinkKind = "control" | "sync"

/** Why a link was refused: a short fixed code (a metric label) and our own words (never the caller's text). */
export type RefusalCode =
  | "unsigned"
  | "malformed"
  | "bad-signature"
  | "stale"
  | "wrong-node"
  | "wrong-kind"
  | "replayed"
  | "busy"
  | "not-clustered"
  | "hello-mismatch"

/** `node`, on a refusal, is set only once the signature checked out (it is then the real signer). */
export type LinkAuth = { ok: true; node: string } | { ok: false; code: RefusalCode; reason: string; node?: string }

export function signLink(secret: string, claim: { from: string; to: string; kind: LinkKind }, now = systemClock.now()): string {
  const ts = String(now)
  const nonce = randomBytes(16).toString("base64url")
  const sig = sign(secret, [claim.from, claim.to, claim.kind, ts, nonce])
  return new URLSearchParams({ node: claim.from, to: claim.to, kind: claim.kind, ts, nonce, sig }).toString()
}

const ID = /^[\w-]{1,64}$/
/** The shape of a node id (letters, digits, _ and -; at most 64): what a token or a /healthz may name. */
export const isNodeId = (id: unknown): id is string => typeof id === "string" && ID.test(id)
const NONCE = /^[\w-]{16,64}$/

export interface VerifierOptions {
  ttlMs?: number
  /** How many accepted nonces are remembered at most; beyond that new links are refused until some expire. */
  maxRemembered?: number
  now?: () => number
}

/** Checks link tokens for one node (`self`), remembering the nonces it accepted until they expire. */
export class LinkVerifier {
  readonly #secret: string
  readonly #self: string
  readonly #ttl: number
  readonly #max: number
  readonly #now: () => number
  /** nonce → when a token carrying it stops being acceptable anyway. */
  readonly #seen = new Map<string, number>()

  constructor(secret: string, self: string, opts: VerifierOptions = {}) {
    this.#secret = secret
    this.#self = self
    this.#ttl = opts.ttlMs ?? TOKEN_TTL_MS
    this.#max = opts.maxRemembered ?? 10_000
    this.#now = opts.now ?? systemClock.now
  }

  verify(params: URLSearchParams, kind: LinkKind): LinkAuth {
    const [node, to, claimedKind, ts, nonce, sig] = ["node", "to", "kind", "ts", "nonce", "sig"].map((k) => params.get(k))
    if (!node || !to || !claimedKind || !ts || !nonce || !sig) return { ok: false, code: "unsigned", reason: "the link token lacks node, to, kind, ts, nonce or sig" }
    if (!ID.test(node) || !ID.test(to) || !/^\d{1,16}$/.test(ts) || !NONCE.test(nonce))
      return { ok: false, code: "malformed", reason: "the link token's fields do not have the expected shape" }
    const want = Buffer.from(sign(this.#secret, [node, to, claimedKind, ts, nonce]))
    const got = Buffer.from(sig)
    if (want.length !== got.length || !timingSafeEqual(want, got)) return { ok: false, code: "bad-signature", reason: "bad signature (wrong cluster secret?)" }
    const refuse = (code: RefusalCode, reason: string): LinkAuth => ({ ok: false, code, reason, node })
    const now = this.#now()
    const age = Math.abs(now - Number(ts))
    if (age > this.#ttl) return refuse("stale", `the token's time is ${Math.round(age / 1000)} s off (tokens live ${this.#ttl / 1000} s: are the clocks in step?)`)
    if (to !== this.#self) return refuse("wrong-node", "the token is for another node")
    if (claimedKind !== kind) return refuse("wrong-kind", `the token is for a ${claimedKind === "sync" ? "sync" : "control"} link`)
    if (this.#seen.has(nonce)) return refuse("replayed", "the token was used already")
    this.#forget(now)
    if (this.#seen.size >= this.#max) return refuse("busy", "too many links opened within a token's lifetime")
    this.#seen.set(nonce, Number(ts) + this.#ttl)
    return { ok: true, node }
  }

  /** Drops the nonces that can no longer be accepted anyway (mostly in insertion order; a full sweep only when full). */
  #forget(now: number): void {
    for (const [nonce, until] of this.#seen) {
      if (until >= now) break
      this.#seen.delete(nonce)
    }
    if (this.#seen.size >= this.#max) for (const [nonce, until] of this.#seen) if (until < now) this.#seen.delete(nonce)
  }
}

function sign(secret: string, parts: string[]): string {
  return createHmac("sha256", secret).update(parts.join(".")).digest("base64url")
}

/**
 * A node's answer to "who are you?" that only a holder of the secret can give:
 * HMAC over its id and the asker's random challenge, under a key derived for
 * this purpose alone (so no answer can ever pass for a link token). A dialler
 * signs a token for the id only once the proof checks out: an unauthenticated
 * answer would let whoever answers at a dialled URL (a stale peer address, a
 * poisoned DNS entry) name a real member and be handed a fresh token for it.
 */
export function identityProof(secret: string, node: string, challenge: string): string {
  const key = createHmac("sha256", secret).update("baton-identity-v1").digest()
  return createHmac("sha256", key).update(`${node}\n${challenge}`).digest("base64url")
}

export function newChallenge(): string {
  return randomBytes(16).toString("base64url")
}

export function checkIdentityProof(secret: string, node: string, challenge: string, proof: unknown): boolean {
  if (typeof proof !== "string") return false
  const want = Buffer.from(identityProof(secret, node, challenge))
  const got = Buffer.from(proof)
  return want.length === got.length && timingSafeEqual(want, got)
}
