import { Hono } from "hono"
import { bodyLimit } from "hono/body-limit"
import type { ContentfulStatusCode } from "hono/utils/http-status"
import { BatonError, type BatonNode } from "../node/index.ts"

/** The HTTP API. Every error is JSON: { error: { code, message } }. */
export function httpApi(node: BatonNode, admin?: { token: string; drain(): void }): Hono {
  const app = new Hono()

  // Operators: drain this node (hand every session over, then exit), as SIGTERM does.
  app.post("/admin/drain", (c) => {
    if (!admin) throw new BatonError("not_found", "admin endpoints are off (set BATON_ADMIN_TOKEN)", 404)
    if (c.req.header("authorization") !== `Bearer ${admin.token}`)
      throw new BatonError("unauthorized", "POST /admin/drain needs Authorization: Bearer <BATON_ADMIN_TOKEN>", 401)
    node.log.info("drain requested over HTTP")
    admin.drain()
    return c.json({ draining: true, node: node.id, sessions: node.sessionCount }, 202)
  })

  app.get("/healthz", (c) => c.json({ ok: true, node: node.id, status: node.status }))
  // Not durable is not unready (the node serves), but the body says so: see the README, "Durability".
  app.get("/readyz", (c) => {
    const d = node.durability()
    const durability = d.durable ? { durable: true } : { durable: false, sessionsNotDurable: d.notDurable, reason: d.reason }
    return node.status === "ready"
      ? c.json({ ready: true, node: node.id, ...durability })
      : c.json({ ready: false, node: node.id, status: node.status, ...durability }, 503)
  })

  app.get("/metrics", (c) => c.text(node.metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" }))

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
      // A chosen seed makes a session reproducible (tests, replays) and its hidden information
      // predictable: only an operator may ask for one.
      if (seed !== undefined) {
        if (!admin || c.req.header("authorization") !== `Bearer ${admin.token}`)
          throw new BatonError("unauthorized", "a session's seed may only be chosen with the admin token (Authorization: Bearer <BATON_ADMIN_TOKEN>)", 401)
        if (typeof seed !== "string" || seed.length === 0 || seed.length > 128) throw new BatonError("bad_request", "seed must be a string of 1-128 characters")
      }
      return c.json(await node.createSession(game, options, seed as string | undefined), 201)
    },
  )

  // Every session of the cluster; ?local=1 for this node's only.
  app.get("/sessions", async (c) =>
    c.json({ sessions: node.role && c.req.query("local") === undefined ? await node.role.listAll() : node.sessions() }),
  )

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
    return c.json(role.inspect(c.req.param("id")))
  })

  app.get("/sessions/:id", async (c) => {
    const s = node.role ? await node.role.info(c.req.param("id")) : node.session(c.req.param("id"))
    if (!s) throw new BatonError("unknown_session", `no session ${c.req.param("id")}`, 404)
    return c.json(s)
  })

  app.notFound((c) => fail(c, new BatonError("not_found", `no route ${c.req.method} ${new URL(c.req.url).pathname}`, 404)))
  app.onError((error, c) => {
    if (error instanceof BatonError) return fail(c, error)
    node.log.error("request failed", { path: new URL(c.req.url).pathname, error })
    return fail(c, new BatonError("internal", "internal error (logged on the node)", 500))
  })
  return app
}

function fail(c: { json: (body: unknown, status: ContentfulStatusCode) => Response }, e: BatonError): Response {
  return c.json({ error: { code: e.code, message: e.message } }, e.status as ContentfulStatusCode)
}
