import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test"
import { resolve } from "node:path"
import counter from "../../app/games/counter.ts"
import memory from "../../app/games/memory.ts"
import orbs from "../../app/games/orbs.ts"
import { describeGame, type GameDescription } from "../../framework/server/playground-api.ts"
import kinds from "../fixtures/playground/kinds.ts"
import nim from "../fixtures/playground/nim.ts"
import { freePort, type NodeProcess, startNodeProcess, stopAllNodes } from "../support/node-process.ts"
import { RawSocket } from "../support/raw-socket.ts"

const APP = resolve(import.meta.dir, "../fixtures/playground")
const ADMIN = "admin-token-for-tests"
const SECRET = "player-secret-for-tests"
afterAll(stopAllNodes)
setDefaultTimeout(90_000)

/** A description without the draft's `$schema` marker: what the tests compare. */
function plain(d: GameDescription) {
  const strip = (s: { schema: object; optional: boolean }) => {
    const { $schema: _, ...schema } = s.schema as Record<string, unknown>
    return { schema, optional: s.optional }
  }
  return { ...d, options: d.options && strip(d.options), actions: d.actions.map((a) => ({ name: a.name, ...strip(a) })) }
}
const object = (properties: Record<string, unknown>, required: string[]) => ({ type: "object", properties, required })

describe("games described for the playground's forms (JSON Schema of what a client sends)", () => {
  test("the example games", () => {
    expect(plain(describeGame(counter))).toEqual({
      name: "counter",
      version: 1,
      players: { min: 1, max: 100 },
      realtime: false,
      options: null,
      actions: [{ name: "inc", schema: object({ by: { type: "integer", minimum: 1, maximum: 10 } }, ["by"]), optional: false }],
    })
    expect(plain(describeGame(memory))).toMatchObject({
      players: { min: 2, max: 4 },
      options: { schema: object({ pairs: { type: "integer", minimum: 2, maximum: 18 } }, []), optional: true },
      actions: [
        { name: "start", schema: object({}, []), optional: true },
        { name: "flip", schema: object({ index: { type: "integer", minimum: 0 } }, ["index"]), optional: false },
      ],
    })
    const direction = { type: "number", minimum: -1, maximum: 1 }
    expect(plain(describeGame(orbs))).toMatchObject({ realtime: true, options: null, actions: [{ name: "steer", schema: object({ dx: direction, dy: direction }, ["dx", "dy"]), optional: false }] })
    expect(plain(describeGame(nim))).toMatchObject({
      options: { schema: object({ stones: { type: "integer", minimum: 3, maximum: 30, default: 12 } }, []), optional: true },
      actions: [{ name: "take" }, { name: "taunt", schema: object({ mood: { type: "string", enum: ["smug", "kind"] }, text: { type: "string", maxLength: 40 } }, ["mood"]) }],
    })
  })

  test("every valibot kind the forms render, and what they ask JSON for", () => {
    const d = plain(describeGame(kinds))
    expect(d.options).toEqual({ schema: object({ mode: { type: "string", enum: ["fast", "slow"] }, rounds: { type: "integer", minimum: 1, default: 3 } }, ["mode"]), optional: false })
    const [everything, dated, nothing, bare] = d.actions
    const p = (everything?.schema as { properties: Record<string, unknown> }).properties
    const node = object({ label: { type: "string" }, children: { type: "array", items: { $ref: "#/$defs/0" } } }, ["label", "children"])
    expect(p).toEqual({
      text: { type: "string", minLength: 1, maxLength: 20 },
      count: { type: "integer", minimum: 0, maximum: 9 },
      ratio: { type: "number" },
      flag: { type: "boolean" },
      pick: { type: "string", enum: ["rock", "paper", "scissors"] },
      suit: { type: "string", enum: ["hearts", "spades"] },
      exactly: { const: "yes" },
      either: { anyOf: [{ type: "string" }, { type: "number" }] },
      shape: { oneOf: [object({ kind: { const: "circle" }, r: { type: "number" } }, ["kind", "r"]), object({ kind: { const: "square" }, side: { type: "number" } }, ["kind", "side"])] },
      list: { type: "array", items: { type: "integer" } },
      pair: { type: "array", items: [{ type: "string" }, { type: "boolean" }], minItems: 2 },
      maybe: { type: "string" },
      withDefault: { type: "number", default: 7 },
      orNull: { anyOf: [{ type: "number" }, { type: "null" }] },
      nested: object({ x: { type: "number" }, tags: { type: "array", items: { type: "string", enum: ["a", "b"] } } }, ["x", "tags"]),
      scores: { type: "object", propertyNames: { type: "string" }, additionalProperties: { type: "number" } },
      // A recursive (lazy) schema refers to its definition.
      tree: node,
      // A transform's input side: what the client sends is a string.
      trimmed: { type: "string" },
    })
    expect((everything?.schema as { required: string[] }).required).not.toContain("maybe")
    expect((everything?.schema as { $defs: unknown }).$defs).toEqual({ 0: node })
    expect(everything?.optional).toBe(false)
    // No JSON form: marked, so the page asks for JSON and says why.
    expect(dated?.schema).toEqual(object({ when: { "x-unsupported": expect.stringContaining('"date" schema') } }, ["when"]))
    expect(nothing).toEqual({ name: "nothing", schema: object({}, []), optional: true })
    expect(bare).toEqual({ name: "bare", schema: { "x-unsupported": expect.stringContaining('"undefined" schema') }, optional: true })
  })
})

describe("the playground's endpoints on a real node", () => {
  let open: NodeProcess
  beforeAll(async () => {
    // The harness's default: operators' views open (as in dev mode), ids self-declared.
    open = await startNodeProcess({ app: APP })
  })
  const post = (base: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${base}/playground${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) })

  test("GET /playground/games: every game of the app, described as describeGame does; the page itself", async () => {
    const body = (await (await fetch(`${open.url}/playground/games`)).json()) as { games: GameDescription[]; players: unknown; playersUrl?: string }
    expect(body.games).toEqual(JSON.parse(JSON.stringify([counter, memory, orbs, nim, kinds].map(describeGame))))
    expect(body.players).toEqual({ authenticated: false })
    expect(body.playersUrl).toBeUndefined() // the page's own origin
    const page = await fetch(`${open.url}/playground`)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain("<title>Baton playground</title>")
  })

  test("players are named as their ids where ids are self-declared; bad names and bodies are refused with a reason", async () => {
    expect(await (await post(open.url, "/players", { name: "ada" })).json()).toEqual({ player: "ada" })
    const cases: [Response, number, string, RegExp][] = [
      [await post(open.url, "/players", { name: "__proto__" }), 400, "invalid_id", /reserved/],
      [await post(open.url, "/players", { name: "" }), 400, "invalid_id", /empty/],
      [await post(open.url, "/players", { name: 7 }), 400, "bad_request", /name/],
      [await post(open.url, "/players", "{nope"), 400, "bad_json", /JSON body/],
      [await post(open.url, "/players", { name: "x".repeat(70_000) }), 413, "bad_request", /64 KiB/],
      [await post(open.url, "/sessions", { game: "chess" }), 404, "unknown_game", /chess/],
      [await post(open.url, "/sessions", { game: "nim", options: { stones: 99 } }), 400, "invalid_options", /stones/],
      [await post(open.url, "/sessions", { game: "nim", seed: "" }), 400, "bad_request", /seed/],
    ]
    for (const [res, status, code, message] of cases) {
      const { error } = (await res.json()) as { error: { code: string; message: string } }
      expect({ status: res.status, code: error.code }).toEqual({ status, code })
      expect(error.message).toMatch(message)
    }
  })

  test("POST /playground/sessions creates with the options and seed given", async () => {
    const res = await post(open.url, "/sessions", { game: "nim", options: { stones: 5 }, seed: "s1" })
    expect(res.status).toBe(201)
    const { id } = (await res.json()) as { id: string }
    const ada = await RawSocket.open(open.url)
    ada.send({ t: "join", session: id, player: "ada", client: "c-ada" })
    expect((await ada.next((f) => f.t === "joined")).view).toMatchObject({ stones: 5, players: ["ada"] })
    ada.close()
  })

  test("operators only: the admin token on the players' port; the admin port open, serving the page, its players sent to the players' port", async () => {
    const adminPort = freePort()
    const node = await startNodeProcess({ app: APP, env: { BATON_OPERATOR_VIEWS: "", BATON_ADMIN_TOKEN: ADMIN, BATON_ADMIN_PORT: String(adminPort), BATON_PLAYER_SECRET: SECRET } })
    const admin = `http://127.0.0.1:${adminPort}`
    const bearer = { authorization: `Bearer ${ADMIN}` }
    const anyone = [fetch(`${node.url}/playground/games`), post(node.url, "/players", { name: "ada" }), post(node.url, "/sessions", { game: "nim" })]
    for (const res of await Promise.all(anyone)) {
      expect(res.status).toBe(401)
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/BATON_ADMIN_PORT|BATON_ADMIN_TOKEN/)
    }
    expect((await post(node.url, "/players", { name: "ada" }, { authorization: `Bearer ${ADMIN}x` })).status).toBe(401)
    expect((await fetch(`${node.url}/playground/games`, { headers: bearer })).status).toBe(200)
    // Like the dashboard, the page is on the admin port when there is one (here: the operators' 401, which says where).
    expect((await fetch(`${node.url}/playground`)).status).toBe(401)
    expect(await (await fetch(`${admin}/playground`)).text()).toContain("<title>Baton playground</title>")
    const described = (await (await fetch(`${admin}/playground/games`)).json()) as { players: unknown; playersUrl: string }
    expect(described.players).toEqual({ authenticated: true })
    expect(new URL(described.playersUrl).port).toBe(String(node.port))

    // Players are authenticated here: the playground's carry their own id space and a token.
    const { id } = (await (await post(admin, "/sessions", { game: "nim" })).json()) as { id: string }
    const ada = (await (await post(node.url, "/players", { name: "ada" }, bearer)).json()) as { player: string; token: string }
    expect(ada.player).toBe("playground:ada")
    const s = await RawSocket.open(`${node.url}?token=${encodeURIComponent(ada.token)}`)
    s.send({ t: "join", session: id, player: "ada", client: "c1" })
    expect(await s.next((f) => f.t === "error")).toMatchObject({ code: "unauthorized", ref: "join" })
    s.send({ t: "join", session: id, player: "playground:ada", client: "c1" })
    expect((await s.next((f) => f.t === "joined")).view).toMatchObject({ players: ["playground:ada"] })
    s.close()
    // Without one, nobody gets in (the app's own tokens still work: tests/server/guards.test.ts).
    const none = await RawSocket.open(node.url)
    expect(await none.next((f) => f.t === "error")).toMatchObject({ code: "unauthorized" })
    expect((await none.waitClosed()).code).toBe(4401)
  })
})
