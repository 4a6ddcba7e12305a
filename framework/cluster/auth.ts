import { createHmac, timingSafeEqual } from "node:crypto"

/**
 * Cluster links carry `?node=ID&ts=MS&sig=HMAC(secret, "ID.MS")` on their
 * upgrade URL: the secret never travels, and a captured URL is only good for
 * a short time.
 */
export const TOKEN_TTL_MS = 60_000

export function signLink(secret: string, nodeId: string, now = Date.now()): string {
  const ts = String(now)
  return new URLSearchParams({ node: nodeId, ts, sig: sign(secret, `${nodeId}.${ts}`) }).toString()
}

export type LinkAuth = { ok: true; node: string } | { ok: false; reason: string }

export function verifyLink(secret: string, params: URLSearchParams, now = Date.now()): LinkAuth {
  const node = params.get("node")
  const ts = params.get("ts")
  const sig = params.get("sig")
  if (!node || !ts || !sig) return { ok: false, reason: "missing node, ts or sig" }
  const age = Math.abs(now - Number(ts))
  if (!(age <= TOKEN_TTL_MS)) return { ok: false, reason: `token time ${ts} is ${Math.round(age / 1000)} s off` }
  const want = Buffer.from(sign(secret, `${node}.${ts}`))
  const got = Buffer.from(sig)
  if (want.length !== got.length || !timingSafeEqual(want, got)) return { ok: false, reason: "bad signature (wrong cluster secret?)" }
  return { ok: true, node }
}

function sign(secret: string, data: string): string {
  return createHmac("sha256", secret).update(data).digest("base64url")
}
