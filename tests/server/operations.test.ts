import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test"
import { resolve } from "node:path"
import { sameSecret } from "../../framework/server/access.ts"
import { signPlayerToken } from "../../framework/server/player-auth.ts"
import { freePort, type NodeProcess, startNodeProcess, stopAllNodes, TEST_APP } from "../support/node-process.ts"
import { TestCluster } from "../support/cluster.ts"
import { RawSocket } from "../support/raw-socket.ts"
import { waitUntil } from "../support/wait.ts"
import { SECRET_TEXT } from "../fixtures/ops-app/index.ts"

const OPS_APP = resolve(import.meta.dir, "../fixtures/ops-app")
const ADMIN = "admin-token-for-tests"
const invited = { "content-type": "application/json", "x-invite": "letmein" }
afterAll(stopAllNodes)
// Real processes on a shared, loaded machine: every wait below has its own bound.
setDefaultTimeout(90_000)

const create = (url: string, body: unknown, headers: Record<string, string> = invited) =>
  fetch(`${url}/sessions`, { method: "POST", headers, body: JSON.stringify(body) })

/** Every stdout line of a node parsed as one JSON object (node-process keeps an unparsable line as { msg } only). */
const notJson = (n: NodeProcess) => n.logs.filter((l) => typeof l.level !== "string" || typeof l.time !== "string")

describe("the operators' views belong to operators", () => {
  test("players' port: 401 without the admin token, 200 with it; the admin port: open, with the dashboard", async () => {
    const adminPort = freePort()
    // The harness opens the views for other tests; "" restores the production default.
    const node = await startNodeProcess({ app: OPS_APP, env: { BATON_OPERATOR_VIEWS: "", BATON_ADMIN_TOKEN: ADMIN, BATON_ADMIN_PORT: String(adminPort) } })
    const id = ((await (await create(node.url, { game: "listed" })).json()) as { id: string }).id
    const admin = `http://127.0.0.1:${adminPort}`
    for (const path of ["/sessions", "/sessions?local=1", "/cluster", "/cluster/registry", "/cluster/timeline", "/metrics"]) {
      const res = await fetch(node.url + path)
      expect([path, res.status]).toEqual([path, 401])
      expect(((await res.json()) as { error: { code: string; message: string } }).error.message).toMatch(/BATON_ADMIN_PORT|BATON_ADMIN_TOKEN/)
      expect([path, (await fetch(node.url + path, { headers: { authorization: `Bearer ${ADMIN}` } })).status]).toEqual([path, 200])
      expect([path, (await fetch(node.url + path, { headers: { authorization: `Bearer ${ADMIN}x` } })).status]).toEqual([path, 401])
      expect([path, (await fetch(admin + path)).status]).toEqual([path, 200])
    }
    expect((await fetch(`${node.url}/dashboard`)).status).toBe(404)
    expect(await (await fetch(`${admin}/dashboard`)).text()).toContain("<html")
    // The operator sees who sits where; anyone else, the public view of the session.
    expect(await (await fetch(`${admin}/sessions/${id}`)).json()).toMatchObject({ id, players: [] })
    const pub = (await (await fetch(`${node.url}/sessions/${id}`)).json()) as Record<string, unknown>
    expect(pub).toMatchObject({ id, game: "listed", seated: 0, maxPlayers: 2, listing: { host: "ada's table" } })
    expect(pub.players).toBeUndefined()
    expect(JSON.stringify(pub)).not.toContain(SECRET_TEXT)
    // Health stays public (load balancers, probes).
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200)
  })

  test("the public listing: open sessions of a game with a seat free, what the game publishes, no player ids", async () => {
    const node = await startNodeProcess({ app: OPS_APP, env: { BATON_OPERATOR_VIEWS: "" } })
    const a = ((await (await create(node.url, { game: "listed" })).json()) as { id: string }).id
    const b = ((await (await create(node.url, { game: "listed" })).json()) as { id: string }).id
    const ada = await RawSocket.open(node.url)
    ada.send({ t: "join", session: a, player: "ada", client: "c-ada" })
    await ada.next((f) => f.t === "joined")
    const bob = await RawSocket.open(node.url)
    bob.send({ t: "join", session: a, player: "bob", client: "c-bob" })
    await bob.next((f) => f.t === "joined")
    const carl = await RawSocket.open(node.url)
    carl.send({ t: "join", session: b, player: "carl", client: "c-carl" })
    await carl.next((f) => f.t === "joined")
    const res = await fetch(`${node.url}/sessions?game=listed`)
    expect(res.status).toBe(200)
    const { sessions } = (await res.json()) as { sessions: Record<string, unknown>[] }
    expect(sessions.map((s) => s.id)).toEqual([b]) // a is full
    expect(sessions[0]).toEqual({ id: b, game: "listed", status: "open", minPlayers: 2, maxPlayers: 2, seated: 1, createdAt: expect.any(Number), listing: { host: "ada's table" } })
    expect(JSON.stringify(sessions)).not.toMatch(/carl|ada"|bob|automerge|internal-detail/)
    expect((await fetch(`${node.url}/sessions?game=nope`)).status).toBe(404)
    for (const s of [ada, bob, carl]) s.close()
  })

  test("admin tokens are compared in constant time: sameSecret hashes both sides, whatever their lengths", () => {
    expect(sameSecret(ADMIN, ADMIN)).toBe(true)
    expect(sameSecret(`${ADMIN}x`, ADMIN)).toBe(false)
    expect(sameSecret("", ADMIN)).toBe(false)
    expect(sameSecret(undefined, ADMIN)).toBe(false)
    expect(sameSecret("", "")).toBe(false) // an empty admin token opens nothing
  })
})

describe("creating sessions", () => {
  test("one client gets its per-minute quota, then 429; the admin token is not limited", async () => {
    const node = await startNodeProcess({ app: OPS_APP, env: { BATON_CREATES_PER_MINUTE: "5", BATON_ADMIN_TOKEN: ADMIN } })
    const statuses: number[] = []
    for (let i = 0; i < 8; i++) statuses.push((await create(node.url, { game: "listed" })).status)
    expect(statuses).toEqual([201, 201, 201, 201, 201, 429, 429, 429])
    const refused = (await (await create(node.url, { game: "listed" })).json()) as { error: { code: string; message: string } }
    expect(refused.error).toMatchObject({ code: "rate_limited", message: expect.stringMatching(/at most 5 a minute; try again in \d+ s/) })
    expect((await create(node.url, { game: "listed" }, { ...invited, authorization: `Bearer ${ADMIN}` })).status).toBe(201)
  })

  test("the app's authorizeCreate hook decides who may create", async () => {
    const node = await startNodeProcess({ app: OPS_APP })
    const res = await create(node.url, { game: "listed" }, { "content-type": "application/json" })
    expect(res.status).toBe(401)
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("unauthorized")
    expect((await create(node.url, { game: "listed" }, { "x-invite": "wrong" })).status).toBe(401)
    expect((await create(node.url, { game: "listed" })).status).toBe(201)
  })

  test("with player tokens on, creating a session takes a player's token", async () => {
    const secret = "player-secret-for-tests"
    const node = await startNodeProcess({ env: { BATON_PLAYER_SECRET: secret } })
    const json = { "content-type": "application/json" }
    expect((await create(node.url, { game: "notes" }, json)).status).toBe(401)
    expect((await create(node.url, { game: "notes" }, { ...json, authorization: "Bearer forged.token" })).status).toBe(401)
    expect((await create(node.url, { game: "notes" }, { ...json, authorization: `Bearer ${signPlayerToken(secret, "ada")}` })).status).toBe(201)
  })

  test("a session nobody joined, or nobody played, is collected after BATON_UNJOINED_MS; one that was played stays", async () => {
    const node = await startNodeProcess({ app: OPS_APP, env: { BATON_UNJOINED_MS: "400", BATON_SWEEP_MS: "100" } })
    const empty = ((await (await create(node.url, { game: "listed" })).json()) as { id: string }).id
    const touched = ((await (await create(node.url, { game: "listed" })).json()) as { id: string }).id
    const played = ((await (await create(node.url, { game: "listed" })).json()) as { id: string }).id
    // Join and go, without acting: what a client holding sessions open for the idle time would do.
    const mallory = await RawSocket.open(node.url)
    mallory.send({ t: "join", session: touched, player: "mallory", client: "c-m" })
    await mallory.next((f) => f.t === "joined")
    mallory.close()
    const ada = await RawSocket.open(node.url)
    ada.send({ t: "join", session: played, player: "ada", client: "c-ada" })
    await ada.next((f) => f.t === "joined")
    ada.send({ t: "act", id: 1, name: "wave", input: {} })
    await ada.next((f) => f.t === "u" && f.a?.[0]?.i === 1)
    ada.close() // gone, but she played and her seat is held: the session waits for her (the idle time)
    const collected = (id: string) => node.eventsOf("session-collected", (e) => e.session === id)[0]
    await waitUntil(() => collected(empty) && collected(touched), "the unjoined and the unplayed sessions are collected", { timeoutMs: 30_000 })
    expect(collected(empty)).toMatchObject({ reason: "nobody joined" })
    expect(collected(touched)).toMatchObject({ reason: "nobody played" })
    expect((await fetch(`${node.url}/sessions/${empty}`)).status).toBe(404)
    expect((await fetch(`${node.url}/sessions/${played}`)).status).toBe(200)
    expect(collected(played)).toBeUndefined()
  })
})

describe("exception text stays in the log", () => {
  const expectHidden = async (res: Response, code: string, node: NodeProcess | NodeProcess[]) => {
    const body = (await res.json()) as { error: { code: string; message: string; errorId?: string } }
    expect(JSON.stringify(body)).not.toContain(SECRET_TEXT)
    expect(JSON.stringify(body)).not.toContain("~run")
    expect(body.error.code).toBe(code)
    expect(body.error.errorId).toMatch(/^e-/)
    expect(body.error.message).toContain(body.error.errorId as string)
    return body.error.errorId as string
  }
  const logged = (nodes: NodeProcess[], errorId: string) =>
    waitUntil(() => nodes.some((n) => n.stderr().split("\n").some((l) => l.includes(errorId) && l.includes(SECRET_TEXT))), `error ${errorId} is logged with its text`)

  test("on one node: a throwing options check, a throwing setup, a throwing action; invalid options still say why", async () => {
    const node = await startNodeProcess({ app: OPS_APP })
    const boom = await create(node.url, { game: "fragile", options: { mode: "boom" } })
    expect(boom.status).toBe(500)
    await logged([node], await expectHidden(boom, "game_error", node))
    const crash = await create(node.url, { game: "fragile", options: { mode: "crash" } })
    await logged([node], await expectHidden(crash, "game_error", node))
    const invalid = (await (await create(node.url, { game: "fragile", options: { mode: "nope" } })).json()) as { error: { code: string; message: string } }
    expect(invalid.error).toMatchObject({ code: "invalid_options", message: expect.stringContaining('mode must be "ok"') })

    const id = ((await (await create(node.url, { game: "fragile", options: { mode: "ok" } })).json()) as { id: string }).id
    const ada = await RawSocket.open(node.url)
    ada.send({ t: "join", session: id, player: "ada", client: "c-ada" })
    await ada.next((f) => f.t === "joined")
    ada.send({ t: "act", id: 1, name: "explode", input: {} })
    const frame = await ada.next((f) => JSON.stringify(f).includes("game_error"), "the action's refusal")
    expect(JSON.stringify(frame)).not.toContain(SECRET_TEXT)
    const errorId = /error id (e-[\w-]+)/.exec(JSON.stringify(frame))?.[1]
    expect(errorId).toBeDefined()
    await logged([node], errorId as string)
    ada.close()
  })

  test("through a relayed create: the owner logs the text, the client gets a code and an error id", async () => {
    const c = await TestCluster.start(2, {}, OPS_APP)
    const [a, b] = c.nodes as [NodeProcess, NodeProcess]
    const ids: string[] = []
    // Placement hashes the new session's id: of 12 creates through a, some land on b (all on a: 1 in 4,096).
    for (let i = 0; i < 12; i++) ids.push(await expectHidden(await create(a.url, { game: "fragile", options: { mode: "boom" } }), "game_error", c.nodes))
    for (const id of ids) await logged(c.nodes, id)
    expect(ids.some((id) => b.stderr().includes(id))).toBe(true)
  })
})

test("a client id borrowed by another player: joined tells it nothing of the owner's action counter", async () => {
  const node = await startNodeProcess({ app: TEST_APP })
  const { id } = (await (await create(node.url, { game: "notes" })).json()) as { id: string }
  const ada = await RawSocket.open(node.url)
  ada.send({ t: "join", session: id, player: "ada", client: "shared" })
  await ada.next((f) => f.t === "joined")
  for (let i = 1; i <= 3; i++) ada.send({ t: "act", id: i, name: "add", input: { text: `n${i}` } })
  await ada.next((f) => JSON.stringify(f).includes('"i":3'), "ada's third ack")
  const mallory = await RawSocket.open(node.url)
  mallory.send({ t: "join", session: id, player: "mallory", client: "shared" })
  const joined = await mallory.next((f) => f.t === "joined")
  expect(joined.seq).toBe(0)
  // Ada herself, reconnecting with her client id, still gets her counter back.
  const again = await RawSocket.open(node.url)
  again.send({ t: "join", session: id, player: "ada", client: "shared" })
  expect((await again.next((f) => f.t === "joined")).seq).toBe(3)
  for (const s of [ada, mallory, again]) s.close()
})

test("BATON_LOG=json: what libraries print to the console becomes JSON lines", async () => {
  const node = await startNodeProcess({ app: OPS_APP })
  expect((await create(node.url, { game: "noisy" })).status).toBe(201)
  await waitUntil(() => node.logs.find((l) => String(l.msg).includes("plain text from a library: noisy setup")), "the console line in the log")
  expect(node.logs.find((l) => l.msg === "a library's warning")).toMatchObject({ level: "warn", source: "console" })
  expect(notJson(node)).toEqual([])
  await waitUntil(() => node.stderr().includes("a library's error"), "the console error in the log")
  for (const line of node.stderr().split("\n").filter(Boolean)) expect(() => JSON.parse(line)).not.toThrow()
})

test("BATON_LOG=json with DEBUG=automerge-repo:*: automerge-repo's own debug output becomes JSON lines too", async () => {
  const node = await startNodeProcess({ env: { DEBUG: "automerge-repo:*" } })
  expect((await create(node.url, { game: "counter" })).status).toBe(201)
  await waitUntil(() => node.logs.filter((l) => l.source === "debug" && String(l.msg).includes("automerge-repo:")).length >= 3, "automerge-repo's debug lines in the log")
  expect(notJson(node)).toEqual([])
  for (const line of node.stderr().split("\n").filter(Boolean)) expect(() => JSON.parse(line)).not.toThrow()
})
