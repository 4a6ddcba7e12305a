import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { type NodeProcess, startNodeProcess, stopAllNodes } from "../support/node-process.ts"

let node: NodeProcess
beforeAll(async () => {
  node = await startNodeProcess()
})
afterAll(stopAllNodes)

const post = (path: string, body: string) =>
  fetch(`${node.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body })

describe("HTTP API of a real node", () => {
  test("health and readiness", async () => {
    expect(await (await fetch(`${node.url}/healthz`)).json()).toMatchObject({ ok: true, status: "ready" })
    const ready = await fetch(`${node.url}/readyz`)
    expect(ready.status).toBe(200)
  })

  test("games are listed", async () => {
    const { games } = (await (await fetch(`${node.url}/games`)).json()) as { games: { name: string }[] }
    expect(games.map((g) => g.name)).toContain("counter")
  })

  test("create, list and get a session", async () => {
    const res = await post("/sessions", JSON.stringify({ game: "counter" }))
    expect(res.status).toBe(201)
    const created = (await res.json()) as { id: string; game: string; status: string }
    expect(created).toMatchObject({ game: "counter", status: "open" })
    const { sessions } = (await (await fetch(`${node.url}/sessions`)).json()) as { sessions: { id: string }[] }
    expect(sessions.map((s) => s.id)).toContain(created.id)
    const one = await fetch(`${node.url}/sessions/${created.id}`)
    expect(await one.json()).toMatchObject({ id: created.id, players: [] })
  })

  test("errors are JSON with a stable code and a message that says what was wrong", async () => {
    const cases: [Promise<Response>, number, string, RegExp][] = [
      [post("/sessions", "{not json"), 400, "bad_json", /JSON body/],
      [post("/sessions", JSON.stringify({ nogame: 1 })), 400, "bad_request", /field game/],
      [post("/sessions", JSON.stringify({ game: "chess" })), 404, "unknown_game", /no game named "chess"/],
      [post("/sessions", JSON.stringify({ game: "counter", options: { x: 1 } })), 400, "invalid_options", /takes no options/],
      [fetch(`${node.url}/sessions/nope`), 404, "unknown_session", /no session nope/],
      [fetch(`${node.url}/no/such/route`), 404, "not_found", /GET \/no\/such\/route/],
      [post("/sessions", JSON.stringify({ game: "counter", pad: "x".repeat(70_000) })), 413, "bad_request", /64 KiB/],
      [fetch(`${node.url}/ws`), 426, "bad_request", /WebSocket upgrade/],
    ]
    for (const [pending, status, code, message] of cases) {
      const res = await pending
      expect(res.status).toBe(status)
      const body = (await res.json()) as { error: { code: string; message: string } }
      expect(body.error.code).toBe(code)
      expect(body.error.message).toMatch(message)
    }
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200)
  })
})

describe("session seeds", () => {
  test("sessions get a secret random seed; choosing one takes the admin token", async () => {
    const denied = await fetch(`${node.url}/sessions`, { method: "POST", body: JSON.stringify({ game: "notes", seed: "guessable" }) })
    expect(denied.status).toBe(401)
    expect(((await denied.json()) as { error: { code: string } }).error.code).toBe("unauthorized")
  })
})
