import * as v from "valibot"
import { explainIssues, safeId } from "../game/index.ts"
import type { ClientMessage, ErrorCode } from "./messages.ts"

const id = v.pipe(v.string(), v.minLength(1), v.maxLength(64))

const schemas = {
  // These three become keys (ledgers, game state indexed by player): see game/ids.ts.
  join: v.object({ t: v.literal("join"), session: safeId, player: safeId, client: safeId, token: v.optional(v.pipe(v.string(), v.maxLength(4096))), leave: v.optional(v.boolean()) }),
  act: v.object({
    t: v.literal("act"),
    id: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
    /** The client's action pending before this one: the node applies this one only after it. */
    p: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(1))),
    name: id,
    input: v.optional(v.unknown()),
  }),
  leave: v.object({ t: v.literal("leave") }),
  ping: v.object({ t: v.literal("ping"), n: v.optional(v.number()) }),
} as const

export type Parsed = { ok: true; msg: ClientMessage } | { ok: false; code: ErrorCode; message: string; ref?: unknown }

/** One player frame to a typed message, or a clear reason it is not one. */
export function parseClientFrame(text: string): Parsed {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (error) {
    return { ok: false, code: "bad_json", message: `frame is not JSON: ${(error as Error).message}` }
  }
  return checkClientMessage(raw)
}

/** A player message already parsed from JSON (a peer relays them as objects), checked the same way. */
export function checkClientMessage(raw: unknown): Parsed {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    return { ok: false, code: "bad_message", message: "a frame must be a JSON object with a type field t" }
  const t = (raw as { t?: unknown }).t
  const ref = (raw as { id?: unknown }).id
  if (typeof t !== "string" || !Object.hasOwn(schemas, t))
    return {
      ok: false,
      code: "unknown_message",
      message: `unknown message type ${JSON.stringify(t ?? null)} (expected one of ${Object.keys(schemas).join(", ")})`,
    }
  const parsed = v.safeParse(schemas[t as keyof typeof schemas], raw)
  if (!parsed.success) {
    const field = parsed.issues[0]?.path?.[0]?.key
    const badId = t === "join" && (field === "session" || field === "player" || field === "client")
    return { ok: false, code: badId ? "invalid_id" : "bad_message", message: `${t}: ${explainIssues(parsed.issues)}`, ref }
  }
  return { ok: true, msg: parsed.output as ClientMessage }
}
