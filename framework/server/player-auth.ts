import { createHmac, timingSafeEqual } from "node:crypto"
import { idProblem } from "../game/index.ts"

/**
 * Who a player connection is. An app gives `authenticate(request)` (its own
 * sessions, cookies, OAuth...) or uses the built-in signed tokens; either way
 * the identity is bound to the connection at the upgrade, and a join for
 * another player is refused. Without either, ids are self-declared (dev).
 */
export type Authenticate = (request: Request) => string | null | undefined | Promise<string | null | undefined>

/** A signed player token: `<base64url payload>.<base64url HMAC-SHA256>`, payload `{ sub, exp }`. */
export function signPlayerToken(secret: string, player: string, ttlSeconds = 3600, now = Date.now()): string {
  const bad = idProblem(player)
  if (bad) throw new TypeError(`signPlayerToken: player id ${bad}`)
  const payload = Buffer.from(JSON.stringify({ sub: player, exp: Math.floor(now / 1000) + ttlSeconds })).toString("base64url")
  return `${payload}.${mac(secret, payload)}`
}

export type TokenCheck = { ok: true; player: string } | { ok: false; reason: string }

/** Checks a `signPlayerToken` token: its signature under `secret`, its player id, its expiry (at `now`). Says why when it fails. */
export function verifyPlayerToken(secret: string, token: string, now = Date.now()): TokenCheck {
  const [payload, sig] = token.split(".")
  if (!payload || !sig) return { ok: false, reason: "malformed token" }
  const want = Buffer.from(mac(secret, payload))
  const got = Buffer.from(sig)
  if (want.length !== got.length || !timingSafeEqual(want, got)) return { ok: false, reason: "bad token signature" }
  let claims: { sub?: unknown; exp?: unknown }
  try {
    claims = JSON.parse(Buffer.from(payload, "base64url").toString())
  } catch {
    return { ok: false, reason: "malformed token" }
  }
  const bad = idProblem(claims.sub)
  if (bad) return { ok: false, reason: `token's sub (player id) ${bad}` }
  if (typeof claims.exp !== "number" || claims.exp * 1000 < now) return { ok: false, reason: "token expired" }
  return { ok: true, player: claims.sub as string }
}

/**
 * The built-in authenticate: a token signed with `secret`, in `?token=` (the
 * WebSocket upgrade, where browsers cannot set headers) or in
 * `Authorization: Bearer` (HTTP requests such as POST /sessions).
 */
export function tokenAuthenticate(secret: string): Authenticate {
  return (request) => {
    const token = new URL(request.url).searchParams.get("token") ?? /^Bearer\s+(.+)$/i.exec(request.headers.get("authorization") ?? "")?.[1]?.trim()
    if (!token) return null
    const check = verifyPlayerToken(secret, token)
    return check.ok ? check.player : null
  }
}

function mac(secret: string, data: string): string {
  return createHmac("sha256", secret).update(data).digest("base64url")
}
