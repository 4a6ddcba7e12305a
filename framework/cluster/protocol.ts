import * as v from "valibot"
import { explainIssues, type LedgerResult, type SessionRecord } from "../game/index.ts"
import { checkClientMessage, type ClientMessage, type PatchOp } from "../protocol/index.ts"

/**
 * The peer protocol: every request and one-way message nodes send each
 * other over the control link, by name, with the schema its body is
 * checked against where it arrives (a peer is authenticated, not trusted:
 * a bug or a bad version must not reach a session). The types the cluster
 * code uses are inferred from these schemas.
 *
 * Version 2 adds `protocol` to the hello and structured errors; a node of
 * version 1 (no `protocol` in its hello) still understands every request
 * and message below, which is what a rolling deploy needs.
 */
export const PROTOCOL_VERSION = 2

const id = v.pipe(v.string(), v.minLength(1), v.maxLength(256))
const count = v.pipe(v.number(), v.safeInteger(), v.minValue(0))
const epoch = v.pipe(v.number(), v.safeInteger(), v.minValue(1))

/**
 * A session record from a peer: its shape is checked here, its state by
 * the game's own schema when a node resumes it (Session.resume).
 */
const record = v.pipe(v.looseObject({
  id,
  game: id,
  version: v.number(),
  status: v.picklist(["open", "ended"]),
  state: v.unknown(),
  players: v.array(v.looseObject({ player: v.string(), seat: v.number(), joinedAt: v.number() })),
  timers: v.array(v.looseObject({ id: v.number(), name: v.string(), at: v.number() })),
  nextTimerId: v.number(),
  rng: v.unknown(),
  tickAt: v.nullable(v.number()),
  clients: v.record(v.string(), v.looseObject({ player: v.string(), seq: v.number(), at: v.number(), results: v.array(v.array(v.unknown())) })),
  createdAt: v.number(),
  activeAt: v.number(),
  endedAt: v.nullable(v.number()),
  rev: count,
}), v.transform((x) => x as unknown as SessionRecord))

const clientMessage = v.custom<ClientMessage>((x) => checkClientMessage(x).ok, "not a valid player message")

const path = v.array(v.union([v.string(), v.number()]))
const patchOp = v.pipe(v.union([v.looseObject({ p: path, v: v.unknown() }), v.looseObject({ p: path, x: v.literal(1) })]), v.transform((x) => x as PatchOp))
const ledgerChange = v.object({ player: v.string(), seq: v.number(), at: v.number(), add: v.array(v.pipe(v.array(v.unknown()), v.transform((x) => x as LedgerResult))) })

/** Owner → replica: the record's changes since `base` (or the whole record), at `rev`; `since`: when the oldest of them was made. */
export const replicationItem = v.object({
  session: id,
  epoch,
  base: v.nullable(count),
  rev: count,
  since: v.number(),
  ops: v.optional(v.array(patchOp)),
  ledgers: v.optional(v.record(v.string(), v.nullable(ledgerChange))),
  full: v.optional(record),
})

/** Requests: the body a node sends, and what the answer is. */
export const requests = {
  /** Create a session here (placement named this node). */
  create: v.object({ game: id, options: v.optional(v.unknown()), id, seed: v.optional(v.string()) }),
  /** Take this session over from a node that is leaving: its document, its live record, the epoch to take. */
  handoff: v.object({ session: id, epoch, doc: v.string(), url: v.optional(v.string()), record: v.optional(record), from: id }),
  /** (Asked by version-1 nodes.) Does this node run the session, or see its owner up? */
  claimed: v.object({ session: id, owner: id }),
  /** A vote for epoch `epoch` of a session whose `owner` went silent, and this node's copy of it. */
  grant: v.object({ session: id, epoch, owner: id }),
  /** This node's copy of a session (it was the newest a vote named). */
  copy: v.object({ session: id }),
  /** Which of these sessions run here. */
  hosting: v.object({ sessions: v.pipe(v.array(id), v.maxLength(100_000)) }),
  /** Does the session run here? */
  where: v.object({ session: id }),
  /** A leaving replica hands its copy on. */
  "copy-on": v.object({ session: id, epoch, record }),
  /** The sessions running here (operators' cluster-wide list). */
  list: v.object({}),
  /** This node's timeline since a time (the dashboard's feed). */
  timeline: v.object({ since: v.number() }),
  /** One session's summary (operators' or public view). */
  info: v.object({ session: id, public: v.optional(v.boolean()) }),
  /** The open sessions of a game with a seat free (the public listing). */
  open: v.object({ game: id }),
  /** The operators' inspector: a session's state, views, timers, steps and history, or (`export`) its history as a replay file. */
  inspect: v.object({ session: id, export: v.optional(v.boolean()), tail: v.optional(v.pipe(count, v.maxValue(1_000))) }),
  /** Which of these members this node sees down (dropping members from the majority needs a majority to agree). */
  "cluster:down?": v.object({ ids: v.pipe(v.array(id), v.maxLength(10_000)) }),
  /** Leaving, and waiting to hear that this node knows: the sessions handed off, and to whom (as the one-way "bye"). */
  bye: v.object({ moved: v.optional(v.pipe(v.record(id, id), v.check((m) => Object.keys(m).length <= 100_000, "at most 100,000 sessions"))) }),
} as const

/**
 * A peer's answer is as hostile as its requests: each request's answer is
 * checked against its schema where it arrives (Cluster.request), before
 * the caller sees it. Objects keep the fields named here and drop any
 * other (a newer peer may add some); a key that names a prototype
 * ("__proto__", "constructor", "prototype") is refused outright, wherever
 * the schema checks an object. Values a schema leaves unknown (a game's
 * state, result or listing) pass as they are: the game's own schema
 * checks them when it needs to.
 *
 * Version-1 nodes (commit 3ec6a06 and before) answer the same shapes,
 * except their timeline entries, which carry no `t`.
 */
const PROTOTYPE_KEYS = ["__proto__", "constructor", "prototype"] as const

/** Refuses an object with an own prototype key (JSON.parse makes "__proto__" an own key), naming it. */
const noPrototypeKeys = v.rawCheck<unknown>(({ dataset, addIssue }) => {
  const x = dataset.value
  if (typeof x !== "object" || x === null) return
  for (const key of PROTOTYPE_KEYS)
    if (Object.hasOwn(x, key))
      addIssue({ message: "a prototype key is refused", path: [{ type: "object", origin: "key", input: x as Record<string, unknown>, key, value: (x as Record<string, unknown>)[key] }] })
})

/** An object of an answer: `entries` checked, other keys dropped, prototype keys refused (naming the key). */
function answerObject<const E extends v.ObjectEntries>(entries: E) {
  return v.pipe(v.unknown(), noPrototypeKeys, v.object(entries))
}

/** The same, keeping the other keys as they are (values shown, never read). */
function looseAnswerObject<const E extends v.ObjectEntries>(entries: E) {
  return v.pipe(v.unknown(), noPrototypeKeys, v.looseObject(entries))
}

const sessionStatus = v.picklist(["open", "ended"])
/** What every view of a session has (OpenSession, and the operators' SessionSummary). */
const sessionCommon = { id, game: id, status: sessionStatus, seated: count, minPlayers: count, maxPlayers: count, createdAt: v.number() }
const sessionSummary = answerObject({
  ...sessionCommon,
  players: v.array(answerObject({ player: v.string(), seat: v.number(), connected: v.boolean() })),
  activeAt: v.number(),
  rev: count,
  result: v.unknown(),
})
const openSession = answerObject({ ...sessionCommon, listing: v.optional(v.unknown()) })
/**
 * One session's view from its owner (the `info` answer): the public one, or
 * the operators' with players, activity and result. Which one is the
 * caller's business: a public view is cut down again where it is used
 * (protocol/sessions.ts asPublic), whatever the peer sent.
 */
const sessionView = answerObject({
  ...sessionCommon,
  players: v.optional(v.array(answerObject({ player: v.string(), seat: v.number(), connected: v.boolean() }))),
  activeAt: v.optional(v.number()),
  rev: v.optional(count),
  result: v.optional(v.unknown()),
  listing: v.optional(v.unknown()),
})
/** A timeline entry: the dashboard shows its other fields as they are, so they are kept (prototype keys never are). A version-1 entry has no `t`. */
const timelineEntry = looseAnswerObject({ t: v.optional(v.string()), time: v.number(), node: v.string(), level: v.string(), msg: v.string() })
const copyVersion = answerObject({ epoch: count, rev: count, streamed: v.boolean() })

/** What each request is answered with. */
export const answers = {
  /** The new session's summary. */
  create: sessionSummary,
  handoff: answerObject({ ok: v.literal(true) }),
  claimed: v.boolean(),
  /**
   * A vote or a refusal (`epoch`: the one in use that made it refuse), with the voter's copy either way;
   * `waitMs`: the owner is not silent long enough here yet, and will be in that long.
   */
  grant: answerObject({ ok: v.boolean(), why: v.optional(v.string()), epoch: v.optional(count), copy: v.nullable(copyVersion), waitMs: v.optional(count) }),
  /** The copy, or null when this node holds none any more. */
  copy: v.nullable(answerObject({ record, epoch: count, streamed: v.optional(v.boolean()) })),
  hosting: v.pipe(v.array(id), v.maxLength(100_000)),
  where: v.boolean(),
  /** False: the copy was not taken (malformed, or a newer epoch runs there). */
  "copy-on": v.boolean(),
  list: v.array(sessionSummary),
  timeline: v.array(timelineEntry),
  /** Null: the session does not run there. */
  info: v.nullable(sessionView),
  open: v.array(openSession),
  /**
   * Null: the session does not run there. Shown to operators or checked as a
   * replay file where it is used (server/inspector.ts); only its names are read here.
   */
  inspect: v.nullable(looseAnswerObject({ session: id, game: id })),
  "cluster:down?": v.pipe(v.array(id), v.maxLength(10_000)),
  bye: v.boolean(),
} as const satisfies Record<RequestName, v.GenericSchema>

/** One-way messages. */
export const messages = {
  rep: replicationItem,
  /** "local" durability: every session's changes of the last window, one message per peer, nothing acknowledged. */
  "rep-batch": v.object({ items: v.array(replicationItem) }),
  "rep-ack": v.object({ session: id, rev: count }),
  "rep-nack": v.object({ session: id }),
  /** The sender is not the owner any more: a newer epoch runs the session. */
  "rep-fenced": v.object({ session: id, epoch }),
  /** The requester of a vote gave its epoch up. */
  "grant-retract": v.object({ session: id, epoch }),
  "relay-open": v.object({ conn: id, msg: clientMessage }),
  "relay-in": v.object({ conn: id, msg: clientMessage }),
  "relay-end": v.object({ conn: id }),
  "relay-out": v.object({ conn: id, frame: v.string() }),
  /** The sender took these sessions over: relays waiting for them point there (only to peers whose hello said "owns"). */
  owns: v.object({ sessions: v.pipe(v.array(id), v.maxLength(100_000)) }),
  /** Every copy of these sessions is gone (the sender found none): their players are told and let go. */
  lost: v.object({ sessions: v.pipe(v.array(id), v.maxLength(100_000)) }),
  /** `to`: the node the session moved to (a handoff): the relay re-points there without looking. */
  "relay-close": v.object({ conn: id, code: v.number(), reason: v.string(), to: v.optional(id) }),
} as const

export type RequestName = keyof typeof requests
export type MessageName = keyof typeof messages
/** The body of a request or message, as checked (the `t` naming it is added on the wire). */
export type Request<K extends RequestName> = v.InferOutput<(typeof requests)[K]>
export type Message<K extends MessageName> = v.InferOutput<(typeof messages)[K]>
/** What a request is answered with, as checked. */
export type Answer<K extends RequestName> = v.InferOutput<(typeof answers)[K]>
export type ReplicationItem = v.InferOutput<typeof replicationItem>
/** A client's ledger as of `rev`: what a replica needs to answer a resend after a failover. */
export type LedgerChange = v.InferOutput<typeof ledgerChange>

/**
 * A refusal across the link: a stable code for the program, a message for
 * people. `status` and `errorId` travel when the refusal is meant for a
 * client (a BatonError raised on the other node).
 */
export interface PeerError {
  code: string
  message: string
  status?: number
  errorId?: string
  /** The message is for clients (a BatonError); anything else stays in the logs. */
  forClients?: boolean
}

/** Why a body does not match its schema, in the words a log reader needs. */
export function checkBody<S extends v.GenericSchema>(schema: S, name: string, body: unknown): { ok: true; body: v.InferOutput<S> } | { ok: false; error: PeerError } {
  const parsed = v.safeParse(schema, body)
  if (parsed.success) return { ok: true, body: parsed.output }
  return { ok: false, error: { code: "bad_request", message: `${name}: ${explainIssues(parsed.issues)}` } }
}

/** A peer's answer to request `name`, checked against its schema: refused with code "bad_answer", naming the request and the field. */
export function checkAnswer<K extends RequestName>(name: K, body: unknown): { ok: true; answer: Answer<K> } | { ok: false; error: PeerError } {
  const parsed = v.safeParse(answers[name] as v.GenericSchema, body)
  if (parsed.success) return { ok: true, answer: parsed.output as Answer<K> }
  return { ok: false, error: { code: "bad_answer", message: `malformed answer to ${name}: ${explainIssues(parsed.issues)}` } }
}

/** A request a peer refused or could not answer; `code` says which (a timeout, no link, a refusal…). */
export class PeerRequestError extends Error {
  readonly code: string
  readonly peerError: PeerError

  constructor(error: PeerError) {
    super(error.message)
    this.name = "PeerRequestError"
    this.code = error.code
    this.peerError = error
  }
}

/** A handler's refusal with a code (thrown by handlers: `throw new PeerFailure({ code, message })`). */
export class PeerFailure extends Error {
  constructor(readonly peerError: PeerError) {
    super(peerError.message)
    this.name = "PeerFailure"
  }
}

/** What a handler's throw becomes on the wire: its code and message when it is a PeerFailure, else a generic one. */
export function toPeerError(error: unknown): PeerError {
  if (error instanceof PeerFailure) return error.peerError
  return { code: "failed", message: (error as Error)?.message ?? String(error) }
}

/**
 * A version-1 peer's error text (it sends `error: string` only): "refused: …"
 * for a refused handoff, "baton-error {json}" for a refusal meant for
 * clients. Read only for version-1 peers, in the middle of a rolling deploy.
 */
export function fromVersion1(text: string): PeerError {
  if (text.startsWith("refused: ")) return { code: "refused", message: text.slice(9) }
  if (text.startsWith("baton-error ")) {
    try {
      const e = JSON.parse(text.slice(12)) as { code?: unknown; message?: unknown; status?: unknown; errorId?: unknown }
      if (typeof e.code === "string" && typeof e.message === "string")
        return { code: e.code, message: e.message, status: typeof e.status === "number" ? e.status : undefined, errorId: typeof e.errorId === "string" ? e.errorId : undefined, forClients: true }
    } catch {}
  }
  return { code: "failed", message: text }
}

/** The same error as a version-1 peer reads it (its `error` string). */
export function toVersion1(e: PeerError): string {
  if (e.forClients) return `baton-error ${JSON.stringify({ code: e.code, message: e.message, status: e.status, errorId: e.errorId })}`
  return e.code === "refused" ? `refused: ${e.message}` : e.message
}

/** A peer's structured error in a response, when it is one. */
export function peerErrorOf(x: unknown): PeerError | undefined {
  if (typeof x !== "object" || x === null) return undefined
  const e = x as Record<string, unknown>
  if (typeof e.code !== "string" || typeof e.message !== "string") return undefined
  return { code: e.code, message: e.message, status: typeof e.status === "number" ? e.status : undefined, errorId: typeof e.errorId === "string" ? e.errorId : undefined, forClients: e.forClients === true }
}
