import { createHash, timingSafeEqual } from "node:crypto"

/**
 * Who may see the operators' views (every session, player id, document URL,
 * member, metric): everyone ("open": the dev cluster, the admin listener,
 * a node on a private network by choice) or only requests that carry the
 * admin token ("token").
 */
export type OperatorAccess = "open" | "token"

/**
 * Compares a secret in constant time. Both sides are hashed first so the
 * comparison takes the same time whatever their lengths (timingSafeEqual
 * itself needs equal lengths, and an early length check would tell it).
 */
export function sameSecret(given: string | null | undefined, expected: string): boolean {
  if (typeof given !== "string") return false
  const a = createHash("sha256").update(given).digest()
  const b = createHash("sha256").update(expected).digest()
  return timingSafeEqual(a, b) && expected.length > 0
}

/** The credential of `Authorization: Bearer <token>`, if any. */
export function bearerOf(request: Request): string | undefined {
  const header = request.headers.get("authorization")
  const m = header ? /^Bearer\s+(.+)$/i.exec(header) : null
  return m?.[1]?.trim()
}

/** Whether `request` carries the admin token. */
export function hasAdminToken(request: Request, token: string | undefined): boolean {
  return token !== undefined && sameSecret(bearerOf(request), token)
}
