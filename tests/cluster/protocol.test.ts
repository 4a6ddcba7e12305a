import { describe, expect, test } from "bun:test"
import { answers, checkAnswer, fromVersion1, PeerFailure, PeerRequestError, PROTOCOL_VERSION, type RequestName, toPeerError, toVersion1 } from "../../framework/cluster/protocol.ts"
import { ledgerGame } from "../../framework/sim/game.ts"
import { Scheduler } from "../../framework/sim/scheduler.ts"
import { World } from "../../framework/sim/world.ts"

/** Two real nodes on the simulator's network, on virtual time (a run replaces the clock: undone at the end). */
async function twoNodes<T>(fn: (w: World, sched: Scheduler) => Promise<T>): Promise<T> {
  const sched = new Scheduler("protocol")
  const undo = sched.install()
  const world = new World(sched, sched.random.fork("w"), { heartbeatMs: 500, failureMs: 3_000, replicas: 2, secret: "protocol-test-secret-0123456789" }, () => [ledgerGame(1)])
  try {
    world.start("a", 1)
    world.start("b", 1)
    await sched.run(2_000)
    return await fn(world, sched)
  } finally {
    for (const p of world.procs) sched.kill(p.owner)
    undo()
  }
}

/** Runs a request from a to b inside the simulation and returns how it settled. */
async function ask(w: World, sched: Scheduler, send: (a: NonNullable<ReturnType<World["live"]>[number]["node"]>, b: string) => Promise<unknown>) {
  const [a, b] = w.live()
  let out: { ok: boolean; value?: unknown; error?: unknown } | undefined
  sched.after(0, () => void send(a?.node as never, b?.node?.id as string).then((value) => (out = { ok: true, value }), (error) => (out = { ok: false, error })), a?.owner)
  await sched.run(sched.now + 3_000)
  return out
}

describe("the peer protocol", () => {
  test("a request whose body fails its schema is refused with bad_request, naming the field; the peer goes on", async () => {
    await twoNodes(async (w, sched) => {
      const bad = await ask(w, sched, (a, b) => a.role?.cluster.request(b, "where", { session: 42 } as never) as Promise<unknown>)
      expect(bad?.ok).toBe(false)
      expect(bad?.error).toBeInstanceOf(PeerRequestError)
      expect((bad?.error as PeerRequestError).code).toBe("bad_request")
      expect((bad?.error as PeerRequestError).message).toContain("session")
      const good = await ask(w, sched, (a, b) => a.role?.cluster.request(b, "where", { session: "nope" }) as Promise<unknown>)
      expect(good).toEqual({ ok: true, value: false })
    })
  })

  test("an unknown request is refused with unknown_request; a handler's refusal arrives with its code", async () => {
    await twoNodes(async (w, sched) => {
      const unknown = await ask(w, sched, (a, b) => a.role?.cluster.request(b, "nope" as never, {} as never) as Promise<unknown>)
      expect((unknown?.error as PeerRequestError).code).toBe("unknown_request")
      const create = await ask(w, sched, (a, b) => a.role?.cluster.request(b, "create", { game: "no-such-game", id: "s1" }) as Promise<unknown>)
      const e = create?.error as PeerRequestError
      expect(e.code).toBe("unknown_game")
      expect(e.peerError.forClients).toBe(true)
      expect(e.message).toContain("no-such-game")
    })
  })

  test("every hello carries the protocol version", async () => {
    await twoNodes(async (w) => {
      expect(PROTOCOL_VERSION).toBeGreaterThanOrEqual(2)
      for (const p of w.live()) {
        const members = p.node?.role?.cluster.members().filter((m) => m.up) ?? []
        expect(members.map((m) => m.protocol)).toEqual([PROTOCOL_VERSION, PROTOCOL_VERSION])
      }
    })
  })

  test("errors read and written the way a version-1 peer does, for mixed clusters mid-deploy", () => {
    expect(fromVersion1("refused: epoch 3 of s belongs to n-1")).toEqual({ code: "refused", message: "epoch 3 of s belongs to n-1" })
    expect(fromVersion1('baton-error {"code":"unknown_game","message":"no game","status":404}')).toMatchObject({ code: "unknown_game", message: "no game", status: 404, forClients: true })
    expect(fromVersion1("request to n-2 timed out")).toEqual({ code: "failed", message: "request to n-2 timed out" })
    expect(fromVersion1("baton-error {not json")).toEqual({ code: "failed", message: "baton-error {not json" })
    const refusal = toPeerError(new PeerFailure({ code: "refused", message: "no" }))
    expect(toVersion1(refusal)).toBe("refused: no")
    expect(fromVersion1(toVersion1({ code: "x", message: "y", forClients: true }))).toMatchObject({ code: "x", message: "y", forClients: true })
    // An exception's text is not a refusal with a code.
    expect(toPeerError(new TypeError("boom"))).toEqual({ code: "failed", message: "boom" })
  })
})

/** Answers as they arrive: parsed from JSON text, so "__proto__" is an own key, as a hostile peer's would be. */
const wire = (text: string): unknown => JSON.parse(text)
const summary = { id: "s1", game: "ledger", status: "open", players: [{ player: "p1", seat: 0, connected: true }], seated: 1, minPlayers: 1, maxPlayers: 4, createdAt: 1, activeAt: 2, rev: 3, result: null }
const open = { id: "s1", game: "ledger", status: "open", seated: 1, minPlayers: 1, maxPlayers: 4, createdAt: 1, listing: { table: "t" } }
const record = { id: "s1", game: "ledger", version: 1, status: "open", state: { ledger: [] }, players: [], timers: [], nextTimerId: 1, rng: null, tickAt: null, clients: {}, createdAt: 1, activeAt: 2, endedAt: null, rev: 3 }
const j = (x: unknown) => JSON.stringify(x)
/** `{...x, __proto__: {polluted: true}}` as JSON text. */
const withProto = (x: object) => `${j(x).slice(0, -1)},"__proto__":{"polluted":true}}`

/**
 * Per request: answers a peer may give (version 1's shapes included), and
 * malformed ones with the field the refusal must name. Typed over every
 * request name: a new request without its cases does not compile.
 */
const cases: Record<RequestName, { good: unknown[]; bad: [answer: unknown, field: string][] }> = {
  create: {
    good: [summary],
    bad: [
      [{ ...summary, seated: "1" }, "seated"],
      [{ ...summary, players: undefined }, "players"],
      [{ ...summary, players: [{ player: "p1", seat: 0 }] }, "players.0.connected"],
      [wire(withProto(summary)), "__proto__"],
    ],
  },
  handoff: { good: [{ ok: true }], bad: [[{ ok: "true" }, "ok"], [{}, "ok"], [wire('{"ok":true,"__proto__":{"polluted":true}}'), "__proto__"]] },
  claimed: { good: [true, false], bad: [["yes", "boolean"], [undefined, "boolean"]] },
  grant: {
    good: [{ ok: true, copy: { epoch: 2, rev: 7, streamed: true } }, { ok: false, why: "no", epoch: 3, copy: null }],
    bad: [
      [{ ok: true, copy: { epoch: 2, rev: "7", streamed: true } }, "copy.rev"],
      [{ ok: true }, "copy"],
      [{ ok: false, why: "no", epoch: -1, copy: null }, "epoch"],
      [wire(`{"ok":true,"copy":${withProto({ epoch: 2, rev: 7, streamed: true })}}`), "copy.__proto__"],
    ],
  },
  copy: {
    good: [{ record, epoch: 2, streamed: true }, { record, epoch: 2 }, null],
    bad: [
      [{ record: { ...record, rev: "3" }, epoch: 2 }, "record.rev"],
      [{ epoch: 2 }, "record"],
      [{ record, epoch: 2, streamed: "yes" }, "streamed"],
      [wire(withProto({ record, epoch: 2 })), "__proto__"],
    ],
  },
  hosting: { good: [[], ["s1", "s2"]], bad: [[["s1", 2], "1"], [{ 0: "s1" }, "Array"], [[""], "0"]] },
  where: { good: [true, false], bad: [[1, "boolean"], [null, "boolean"]] },
  "copy-on": { good: [true, false], bad: [["true", "boolean"], [undefined, "boolean"]] },
  list: { good: [[], [summary]], bad: [[[summary, { ...summary, status: "gone" }], "1.status"], [[{ ...summary, id: undefined }], "0.id"], [wire(`[${withProto(summary)}]`), "0.__proto__"]] },
  timeline: {
    good: [[{ t: "member-up", time: 1, node: "n-1", level: "info", msg: "member up", member: "n-2" }], [{ time: 1, node: "n-1", level: "info", msg: "version 1: no t" }]],
    bad: [
      [[{ t: "member-up", time: "1", node: "n-1", level: "info", msg: "m" }], "0.time"],
      [[{ t: "member-up", time: 1, level: "info", msg: "m" }], "0.node"],
      [wire(`[${withProto({ t: "x", time: 1, node: "n-1", level: "info", msg: "m" })}]`), "0.__proto__"],
    ],
  },
  info: {
    good: [summary, open, null],
    bad: [[{ ...open, createdAt: "yesterday" }, "createdAt"], [{ ...summary, players: "p1" }, "players"], [{ game: "ledger" }, "id"], [wire(withProto(open)), "__proto__"]],
  },
  open: { good: [[], [open]], bad: [[[{ ...open, maxPlayers: -1 }], "0.maxPlayers"], [[open, "s2"], "1"], [wire(`[${withProto(open)}]`), "0.__proto__"]] },
  "cluster:down?": { good: [[], ["n-2"]], bad: [["n-2", "Array"], [[null], "0"]] },
  bye: { good: [true], bad: [["yes", "boolean"], [null, "boolean"]] },
  inspect: {
    good: [{ session: "s1", game: "ledger", record, views: [], history: {} }, { format: "baton-replay", session: "s1", game: "ledger", start: record, steps: [] }, null],
    bad: [[{ game: "ledger", record }, "session"], [{ session: "s1", game: 7 }, "game"], [wire(withProto({ session: "s1", game: "ledger" })), "__proto__"]],
  },
}

describe("answers to requests", () => {
  test("every request has an answer schema and cases here", () => {
    expect(Object.keys(answers).sort()).toEqual(Object.keys(cases).sort())
  })

  for (const [name, { good, bad }] of Object.entries(cases) as [RequestName, (typeof cases)[RequestName]][]) {
    test(`${name}: good answers pass; malformed ones are refused with bad_answer, naming the request and the field`, () => {
      for (const answer of good) {
        const checked = checkAnswer(name, answer)
        if (!checked.ok) throw new Error(`${j(answer)} refused: ${checked.error.message}`)
      }
      for (const [answer, field] of bad) {
        const checked = checkAnswer(name, answer)
        expect(checked.ok).toBe(false)
        if (checked.ok) continue
        expect(checked.error.code).toBe("bad_answer")
        expect(checked.error.message).toContain(`answer to ${name}: `)
        if (field === "boolean" || field === "Array") expect(checked.error.message).toContain(`Expected ${field}`)
        else expect(checked.error.message).toContain(`${field}: `)
      }
    })
  }

  test("nothing a peer sends reaches an object prototype: checked objects refuse the key, unknown values keep it as an own key", () => {
    const prototypeKeys = (text: string) => checkAnswer("handoff", wire(text))
    for (const key of ["__proto__", "constructor", "prototype"]) expect(prototypeKeys(`{"ok":true,"${key}":{"polluted":true}}`)).toMatchObject({ ok: false, error: { code: "bad_answer" } })
    // A game's values are the game's: a "__proto__" in a result is an own key, not a prototype.
    const checked = checkAnswer("info", wire(`{"id":"s1","game":"ledger","status":"ended","seated":0,"minPlayers":1,"maxPlayers":2,"createdAt":1,"result":{"__proto__":{"polluted":true}}}`))
    if (!checked.ok) throw new Error(checked.error.message)
    const result = checked.answer?.result as Record<string, unknown>
    expect(Object.getPrototypeOf(result)).toBe(Object.prototype)
    expect(result.polluted).toBeUndefined()
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    // Fields no schema names are dropped (a newer peer may add some); a timeline entry keeps its own.
    const extra = checkAnswer("create", { ...summary, secret: "x" })
    expect(extra.ok && "secret" in extra.answer).toBe(false)
    const entry = checkAnswer("timeline", [{ t: "member-up", time: 1, node: "n-1", level: "info", msg: "m", member: "n-2" }])
    expect(entry.ok && entry.answer[0]?.member).toBe("n-2")
  })

  test("a peer's malformed answer rejects the request with bad_answer (the peer, the request, the field), counted each time and logged once", async () => {
    await twoNodes(async (w, sched) => {
      const [, b] = w.live()
      b?.node?.role?.cluster.handle("where", () => "yes")
      b?.node?.role?.cluster.handle("grant", () => ({ ok: true, copy: { epoch: 2, rev: "7", streamed: true } }))
      const where = await ask(w, sched, (a, to) => a.role?.cluster.request(to, "where", { session: "s1" }) as Promise<unknown>)
      const e = where?.error as PeerRequestError
      expect(e).toBeInstanceOf(PeerRequestError)
      expect(e.code).toBe("bad_answer")
      expect(e.message).toContain("answer to where")
      expect(e.message).toContain(b?.node?.id as string)
      await ask(w, sched, (a, to) => a.role?.cluster.request(to, "where", { session: "s1" }) as Promise<unknown>)
      const grant = await ask(w, sched, (a, to) => a.role?.cluster.request(to, "grant", { session: "s1", epoch: 2, owner: to }) as Promise<unknown>)
      expect((grant?.error as PeerRequestError).message).toContain("copy.rev")
      const [a] = w.live()
      expect(a?.node?.role?.cluster.badAnswers).toBe(3)
      expect(w.log.filter((l) => l.includes("malformed peer answer refused")).length).toBe(2)
      // The peer goes on: a good answer still arrives.
      const hosting = await ask(w, sched, (a, to) => a.role?.cluster.request(to, "hosting", { sessions: ["s1"] }) as Promise<unknown>)
      expect(hosting).toEqual({ ok: true, value: [] })
    })
  })
})
