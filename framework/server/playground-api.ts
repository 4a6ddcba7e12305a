import { type ConversionConfig, type JSONSchema7, toJsonSchema } from "@valibot/to-json-schema"
import { type Context, Hono } from "hono"
import { bodyLimit } from "hono/body-limit"
import * as v from "valibot"
import { type AnyGame, type AnySchema, explainIssues } from "../game/index.ts"
import { BatonError, type BatonNode } from "../node/index.ts"
import { type PlaygroundPlayers, playgroundPlayers } from "./playground-players.ts"

/** What the playground's endpoints need besides the node (`startNode` fills it). */
export interface PlaygroundOptions {
  /** Seats the playground's players; without it ids are self-declared (a node that authenticates players refuses them). */
  players?: PlaygroundPlayers
  /** Where the playground's players connect, when the page is served where players are not (the admin listener). */
  playersUrl?: string
}

/** A schema as the playground renders it: JSON Schema (draft-07) of what a client sends. */
export interface SchemaDescription {
  /**
   * The schema's input side (a transform's output is the server's business).
   * A part valibot's converter cannot express is `{ "x-unsupported": why }`:
   * the page asks for JSON there.
   */
  schema: JSONSchema7
  /** The value may be left out altogether (the schema accepts `undefined`). */
  optional: boolean
}

/** A game as the playground shows it (GET /playground/games). */
export interface GameDescription {
  name: string
  version: number
  players: { min: number; max: number }
  realtime: boolean
  /** The options a session is created with; null: the game takes none. */
  options: SchemaDescription | null
  /** Every action, in the order the game declares them. */
  actions: ({ name: string } & SchemaDescription)[]
}

const CONVERSION: ConversionConfig = {
  typeMode: "input",
  errorMode: "ignore",
  // A schema with no JSON Schema form (a date, a custom check on its own) is marked, not dropped silently.
  overrideSchema: ({ errors }) => (errors ? ({ "x-unsupported": errors.join("; ") } as JSONSchema7) : undefined),
}

/** Describes one schema; a schema the converter chokes on (a lazy getter that throws) becomes "write JSON". */
export function describeSchema(schema: AnySchema): SchemaDescription {
  let json: JSONSchema7
  try {
    json = toJsonSchema(schema, CONVERSION)
  } catch (error) {
    json = { "x-unsupported": `cannot describe this schema (${error instanceof Error ? error.message : "unknown error"})` } as JSONSchema7
  }
  let optional = false
  try {
    optional = v.safeParse(schema, undefined).success
  } catch {
    // An async schema cannot be run here; the node says what it accepts when the action is sent.
  }
  return { schema: json, optional }
}

const described = new WeakMap<AnyGame, GameDescription>()

/** A game's setup and actions as the playground's forms are built from them. */
export function describeGame(game: AnyGame): GameDescription {
  let d = described.get(game)
  if (!d) {
    d = {
      name: game.name,
      version: game.version,
      players: { min: game.players.min, max: game.players.max },
      realtime: !!game.tick,
      options: game.options ? describeSchema(game.options) : null,
      actions: Object.entries(game.actions as Record<string, { input: AnySchema }>).map(([name, a]) => ({ name, ...describeSchema(a.input) })),
    }
    described.set(game, d)
  }
  return d
}

const SeatBody = v.object({ name: v.string() })
const CreateBody = v.object({ game: v.string(), options: v.optional(v.unknown()), seed: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(128))) })

/**
 * The playground's endpoints, for operators only (http.ts mounts them behind
 * the operators' access): the games' schemas, players' credentials, and
 * sessions created as an operator creates them (no creation gate).
 */
export function playgroundApi(node: BatonNode, opts: PlaygroundOptions = {}): Hono {
  const app = new Hono()
  const players = opts.players ?? playgroundPlayers(undefined, undefined).players
  const limit = bodyLimit({ maxSize: 64 * 1024, onError: () => { throw new BatonError("bad_request", "request body over 64 KiB", 413) } })

  app.get("/games", (c) =>
    c.json({
      games: [...node.games.values()].map(describeGame),
      players: { authenticated: players.authenticated },
      ...(opts.playersUrl ? { playersUrl: opts.playersUrl } : {}),
    }),
  )

  app.post("/players", limit, async (c) => {
    const { name } = await bodyOf(c, SeatBody)
    const issued = players.issue(name)
    if ("problem" in issued) throw new BatonError("invalid_id", issued.problem)
    return c.json(issued)
  })

  app.post("/sessions", limit, async (c) => {
    const { game, options, seed } = await bodyOf(c, CreateBody)
    return c.json(await node.createSession(game, options, seed), 201)
  })
  return app
}

async function bodyOf<T extends AnySchema>(c: Context, schema: T): Promise<v.InferOutput<T>> {
  let body: unknown
  try {
    body = await c.req.json()
  } catch {
    throw new BatonError("bad_json", `${c.req.method} ${new URL(c.req.url).pathname} needs a JSON body`)
  }
  const parsed = v.safeParse(schema, body)
  if (!parsed.success) throw new BatonError("bad_request", explainIssues(parsed.issues))
  return parsed.output
}
