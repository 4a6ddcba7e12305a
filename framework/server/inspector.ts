import type { Context, Env, Hono, MiddlewareHandler } from "hono"
import { readReplayFile, type ReplayFile } from "../game/index.ts"
import { BatonError, type BatonNode } from "../node/index.ts"
import { sessionParam } from "./session-param.ts"

/** The query parameters each route takes; any other is refused (400), naming it. */
const PARAMS = { inspect: ["tail"], export: [] } as const

/**
 * The dashboard's inspector, for operators: one session's live state, each
 * player's view, timers, latest steps and its document's history
 * (GET /sessions/:id/inspect), and that history as a file `Session.replay`
 * reads (GET /sessions/:id/export). Any node answers: from the session when
 * it runs here, else relayed to the node running it, else (that node does
 * not answer) from this node's copy of its document, when it is a replica.
 * `via` says which.
 */
export function inspectorRoutes<E extends Env>(app: Hono<E>, node: BatonNode, operatorsOnly: MiddlewareHandler): void {
  app.get("/sessions/:id/inspect", operatorsOnly, async (c) => {
    const { found, via } = await inspected(node, c, "inspect")
    return c.json({ ...(found as object), via })
  })

  app.get("/sessions/:id/export", operatorsOnly, async (c) => {
    const { found } = await inspected(node, c, "export")
    const game = node.games.get(String((found as { game?: unknown }).game))
    let file: ReplayFile
    try {
      // Checked as Session.replay will check it: a file that would not load is not handed out.
      if (!game) throw new Error(`this node has no game ${JSON.stringify((found as { game?: unknown }).game)}`)
      file = readReplayFile(game, found)
    } catch (error) {
      throw new BatonError("bad_export", `the history read for session ${c.req.param("id")} is not a valid replay file: ${(error as Error).message}`, 502)
    }
    const name = `baton-${file.game}-${file.session}-rev${file.end.rev}.json`.replace(/[^\w.-]/g, "_")
    return c.json(file, 200, { "content-disposition": `attachment; filename="${name}"` })
  })
}

async function inspected(node: BatonNode, c: Context, route: keyof typeof PARAMS): Promise<{ found: unknown; via: { node: string; how: "here" | "owner" | "copy"; owner?: string } }> {
  const id = sessionParam(c.req.param("id") ?? "")
  const query = c.req.queries()
  for (const key of Object.keys(query))
    if (!(PARAMS[route] as readonly string[]).includes(key))
      throw new BatonError("bad_request", `GET /sessions/:id/${route} takes ${PARAMS[route].length ? PARAMS[route].map((p) => `?${p}=`).join(", ") : "no query parameters"}, not ${JSON.stringify(key.slice(0, 40))}`, 400)
  const tail = query.tail?.[0]
  if (tail !== undefined && (query.tail?.length !== 1 || !/^\d{1,4}$/.test(tail) || Number(tail) < 1 || Number(tail) > 1000))
    throw new BatonError("bad_request", "tail must be one integer from 1 to 1000 (how many of the latest steps to show)", 400)
  const req = { export: route === "export", ...(tail ? { tail: Number(tail) } : {}) }
  const got = node.role ? await node.role.inspectSession(id, req) : wrap(node.inspect(id, { ...req, copies: true }))
  if (!got) throw new BatonError("unknown_session", `no session ${id}: no node this one reaches runs it, and this node holds no copy of it`, 404)
  return { found: got.found, via: { node: node.id, how: got.via, ...(got.owner ? { owner: got.owner } : {}) } }
}

function wrap(found: unknown): { found: unknown; via: "here"; owner?: string } | undefined {
  return found ? { found, via: "here" } : undefined
}
