import { BatonError } from "../node/index.ts"

/**
 * Who may create a session. Returns an id for the creator (its creations are
 * counted under it), `true` to allow it as an anonymous client (counted by
 * address), or null / false / undefined to refuse. Without a hook, an app
 * that authenticates its players (BATON_PLAYER_SECRET or `authenticate`)
 * lets only authenticated players create; an app that does not lets anyone.
 */
export type AuthorizeCreate = (
  request: Request,
  body: { game: string; options: unknown },
) => string | boolean | null | undefined | Promise<string | boolean | null | undefined>

export interface CreateGateOptions {
  authorize?: AuthorizeCreate
  /** Sessions one client may create per minute (a bucket that refills evenly); 0 turns the limit off. */
  perMinute: number
  clock?: () => number
}

/** Clients remembered at most; full buckets are forgotten first (they hold nothing worth keeping). */
const MAX_CLIENTS = 10_000

/** Decides one creation: resolves when it may go ahead, throws a BatonError (401 or 429) when not. */
export type CreateGate = (request: Request, address: string | undefined, body: { game: string; options: unknown }) => Promise<void>

/**
 * The gate in front of POST /sessions (`startNode` builds it): the
 * `authorize` hook, then a rate limit per creator (its id, or its address).
 * Requests with the admin token skip it.
 */
export function createGate(opts: CreateGateOptions): CreateGate {
  const clock = opts.clock ?? Date.now
  const buckets = new Map<string, { tokens: number; at: number }>()
  const perMs = opts.perMinute / 60_000

  const take = (key: string): number => {
    const now = clock()
    let b = buckets.get(key)
    if (b) {
      b.tokens = Math.min(opts.perMinute, b.tokens + (now - b.at) * perMs)
      b.at = now
    } else {
      if (buckets.size >= MAX_CLIENTS) prune(buckets, opts.perMinute, now, perMs)
      b = { tokens: opts.perMinute, at: now }
      buckets.set(key, b)
    }
    if (b.tokens < 1) return Math.ceil((1 - b.tokens) / perMs / 1000)
    b.tokens -= 1
    return 0
  }

  return async (request, address, body) => {
    let who: string | boolean | null | undefined = true
    if (opts.authorize) {
      who = await opts.authorize(request, body) // a hook that throws refuses: the API logs it and answers 500
      if (!who) throw new BatonError("unauthorized", "creating a session needs a player's credentials (Authorization: Bearer <player token>)", 401)
    }
    if (opts.perMinute <= 0) return
    const key = typeof who === "string" ? `player:${who}` : `address:${addressKey(address)}`
    const wait = take(key)
    if (wait > 0)
      throw new BatonError("rate_limited", `too many sessions created by this client: at most ${opts.perMinute} a minute; try again in ${wait} s`, 429)
  }
}

function prune(buckets: Map<string, { tokens: number; at: number }>, cap: number, now: number, perMs: number): void {
  for (const [key, b] of buckets) if (b.tokens + (now - b.at) * perMs >= cap) buckets.delete(key)
  // Still full of clients that are all mid-burst: forget the oldest half rather than grow without bound.
  if (buckets.size >= MAX_CLIENTS) for (const key of [...buckets.keys()].slice(0, MAX_CLIENTS / 2)) buckets.delete(key)
}

/**
 * An anonymous creator's bucket: its IPv4 address, or its IPv6 /64 (one
 * host is usually given a whole /64, and rotating addresses inside it would
 * otherwise get a fresh quota each).
 */
export function addressKey(address: string | undefined): string {
  if (!address) return "unknown"
  const v4 = /^(?:::ffff:)?(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address)
  if (v4) return v4[1] as string
  if (!address.includes(":")) return address
  const [head = "", tail = ""] = address.toLowerCase().split("::")
  const left = head ? head.split(":") : []
  const right = tail ? tail.split(":") : []
  const groups = address.includes("::") ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right] : left
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":")}::/64`
}
