import { Hono, type MiddlewareHandler } from "hono"
import { bodyLimit } from "hono/body-limit"
import type { ContentfulStatusCode } from "hono/utils/http-status"
import { BatonError, type BatonNode, handlerFailures } from "../node/index.ts"
import { hasAdminToken, type OperatorAccess } from "./access.ts"
import type { CreateGate } from "./create-gate.ts"
import { intrinsicsPolluted } from "./intrinsics.ts"
import { inspectorRoutes } from "./inspector.ts"
import { sessionParam } from "./session-param.ts"
import { type PlaygroundOptions, playgroundApi } from "./playground-api.ts"

/** What `httpApi` serves beyond the public API: the admin endpoints, the operators' views, the creation gate. */
export interface HttpOptions {
  /** /admin endpoints: the admin token and what drain does (stop the node). */
  admin?: { token: string; drain(): void }
  /** Who sees the operators' views (/sessions without ?game, /cluster*, /metrics, full session info). Default "token". */
  operators?: OperatorAccess
  /** Who may create sessions, and how many a minute. */
  create?: CreateGate
  /** The playground's players and where they connect (docs/games.md, "Trying a game in the playground"). */
  playground?: PlaygroundOptions
}

/** What Bun.serve hands the API with each request: the server, which knows the client's address. */
type Env = { Bindings: { server?: { requestIP(r: Request): { address: string } | null } } }

/** The HTTP API. Every error is JSON: { error: { code, message, errorId? } }. */
export function httpApi(node: BatonNode, opts: HttpOptions = {}): Hono<Env> {
  const app = new Hono<Env>()
  const { admin } = opts
  const isOperator = (req: Request) => opts.operators === "open" || hasAdminToken(req, admin?.token)
  // Every session, player id, member and metric: for operators only (the admin listener, or the admin token).
  const operatorsOnly: MiddlewareHandler = async (c, next) => {
    if (!isOperator(c.req.raw))
      throw new BatonError(
        "unauthorized",
        `${c.req.method} ${new URL(c.req.url).pathname} is an operator's view: use the admin port (BATON_ADMIN_PORT) or send Authorization: Bearer <BATON_ADMIN_TOKEN>`,
        401,
      )
    await next()
  }

  // Operators: drain this node (hand every session over, then exit), as SIGTERM does.
  app.post("/admin/drain", (c) => {
    if (!admin) throw new BatonError("not_found", "admin endpoints are off (set BATON_ADMIN_TOKEN)", 404)
    if (!hasAdminToken(c.req.raw, admin.token))
      throw new BatonError("unauthorized", "POST /admin/drain needs Authorization: Bearer <BATON_ADMIN_TOKEN>", 401)
    node.log.info("drain requested over HTTP")
    admin.drain()
    return c.json({ draining: true, node: node.id, sessions: node.sessionCount }, 202)
  })

  app.get("/healthz", (c) =>
    intrinsicsPolluted()
      ? c.json({ ok: false, node: node.id, status: node.status, reason: "a shared prototype was modified at run time (prototype pollution): restart this node" }, 500)
      : c.json({ ok: true, node: node.id, status: node.status, ...identity(c.req.query("c")) }),
  )
  // A peer about to dial asks who answers here, with a challenge: the proof shows this node holds the cluster secret.
  const identity = (challenge: string | undefined) => {
    const proof = challenge && node.role?.cluster.proveIdentity(challenge)
    return proof ? { proof } : {}
  }
  // Not durable is not unready (the node serves), but the body says so: see docs/cluster.md, "Durability".
  app.get("/readyz", (c) => {
    const d = node.durability()
    const durability = d.durable
      ? { durable: true, ...(d.waiting ? { sessionsWaitingForAReplica: d.waiting } : {}) }
      : { durable: false, sessionsNotDurable: d.notDurable, reason: d.reason }
    return node.status === "ready"
      ? c.json({ ready: true, node: node.id, ...durability })
      : c.json({ ready: false, node: node.id, status: node.status, ...durability }, 503)
  })

  app.get("/metrics", operatorsOnly, (c) => c.text(node.metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" }))

  app.get("/games", (c) =>
    c.json({
      games: [...node.games.values()].map((g) => ({ name: g.name, version: g.version, players: g.players, realtime: !!g.tick })),
    }),
  )

  app.post(
    "/sessions",
    bodyLimit({ maxSize: 64 * 1024, onError: (c) => fail(c, new BatonError("bad_request", "request body over 64 KiB", 413)) }),
    async (c) => {
      let body: unknown
      try {
        body = await c.req.json()
      } catch {
        throw new BatonError("bad_json", "POST /sessions needs a JSON body like {\"game\": \"tictactoe\"}")
      }
      if (typeof body !== "object" || body === null || typeof (body as { game?: unknown }).game !== "string")
        throw new BatonError("bad_request", "POST /sessions: field game (string) is required")
      const { game, options, seed } = body as { game: string; options?: unknown; seed?: unknown }
      const operator = hasAdminToken(c.req.raw, admin?.token)
      // Operators create as they please; anyone else goes through the app's hook and the rate limit.
      if (!operator && opts.create) await opts.create(c.req.raw, c.env?.server?.requestIP(c.req.raw)?.address, { game, options })
      // A chosen seed makes a session reproducible (tests, replays) and its hidden information
      // predictable: only an operator may ask for one.
      if (seed !== undefined) {
        if (!operator)
          throw new BatonError("unauthorized", "a session's seed may only be chosen with the admin token (Authorization: Bearer <BATON_ADMIN_TOKEN>)", 401)
        if (typeof seed !== "string" || seed.length === 0 || seed.length > 128) throw new BatonError("bad_request", "seed must be a string of 1-128 characters")
      }
      return c.json(await node.createSession(game, options, seed as string | undefined), 201)
    },
  )

  // ?game=NAME: the public listing, open sessions of a game with a seat free, as the game publishes them.
  // Without it: every session of the cluster, for operators; ?local=1 for this node's only.
  app.get("/sessions", async (c, next) => {
    const game = c.req.query("game")
    if (game === undefined) return next()
    if (!node.games.has(game)) throw new BatonError("unknown_game", `no game named "${game}" (games: ${[...node.games.keys()].join(", ")})`, 404)
    return c.json({ sessions: node.role ? await node.role.openAll(game) : node.openSessions(game) })
  })
  app.get("/sessions", operatorsOnly, async (c) =>
    c.json({ sessions: node.role && c.req.query("local") === undefined ? await node.role.listAll() : node.sessions() }),
  )
  app.use("/playground/*", operatorsOnly).route("/playground", playgroundApi(node, opts.playground))
  app.use("/cluster", operatorsOnly)
  app.use("/cluster/*", operatorsOnly)

  // The members as this node sees them.
  app.get("/cluster", (c) => {
    const role = node.role
    if (!role) return c.json({ node: node.id, clustered: false, members: [{ id: node.id, status: node.status, sessions: node.sessionCount }] })
    const now = Date.now()
    return c.json({
      node: node.id,
      clustered: true,
      members: role.cluster.members().map((m) => ({ ...m, lastHeardMs: now - m.lastHeard })),
      ...role.stats(),
      /** Peer answers refused for not matching their schema (cluster/protocol.ts): a peer of a broken or hostile build. */
      badAnswers: role.cluster.badAnswers,
    })
  })
  app.get("/cluster/timeline", async (c) => {
    const since = Number(c.req.query("since") ?? 0) || 0
    return c.json({ events: node.role ? await node.role.timelineAll(since) : node.timeline(since) })
  })

  app.get("/cluster/registry", (c) =>
    c.json({ sessions: node.role ? node.role.registry() : node.sessions().map((s) => ({ id: s.id, game: s.game, owner: node.id, epoch: 1, status: s.status, replicas: [node.id] })) }),
  )

  app.get("/cluster/sessions/:id", (c) => {
    const role = node.role
    if (!role) throw new BatonError("not_found", "this node is not in a cluster", 404)
    return c.json(role.inspect(sessionParam(c.req.param("id"))))
  })

  inspectorRoutes(app, node, operatorsOnly)

  // Operators see the whole summary; anyone else what the public listing shows of it.
  app.get("/sessions/:id", async (c) => {
    const id = sessionParam(c.req.param("id"))
    const view = isOperator(c.req.raw) ? "operator" : "public"
    const s = node.role ? await node.role.info(id, view) : view === "operator" ? node.session(id) : node.publicSession(id)
    if (!s) throw new BatonError("unknown_session", `no session ${id}`, 404)
    return c.json(s)
  })

  app.notFound((c) => fail(c, new BatonError("not_found", `no route ${c.req.method} ${new URL(c.req.url).pathname}`, 404)))
  app.onError((error, c) => {
    if (error instanceof BatonError) return fail(c, error)
    const { errorId } = handlerFailures(node)("http", error, { path: new URL(c.req.url).pathname })
    return fail(c, new BatonError("internal", `internal error (error id ${errorId}, logged on the node)`, 500, errorId))
  })
  return app
}

function fail(c: { json: (body: unknown, status: ContentfulStatusCode) => Response }, e: BatonError): Response {
  return c.json({ error: { code: e.code, message: e.message, ...(e.errorId ? { errorId: e.errorId } : {}) } }, e.status as ContentfulStatusCode)
}
