import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { playerSockets } from "../../framework/server/players.ts"
import { type NodeProcess, startNodeProcess, stopAllNodes } from "../support/node-process.ts"
import { RawSocket } from "../support/raw-socket.ts"

let node: NodeProcess
let session: string
beforeAll(async () => {
  node = await startNodeProcess()
  const res = await fetch(`${node.url}/sessions`, { method: "POST", body: JSON.stringify({ game: "counter" }) })
  session = ((await res.json()) as { id: string }).id
})
afterAll(stopAllNodes)

const join = (player: string) => ({ t: "join", session, player, client: `c-${player}` })

describe("player protocol over a real WebSocket", () => {
  test("join, act, ack with the action id, and a delta rather than the whole state", async () => {
    const a = await RawSocket.open(node.url)
    a.send(join("alice"))
    const joined = await a.next((f) => f.t === "joined")
    expect(joined).toMatchObject({ session, player: "alice", seat: 0, seq: 0, status: "open" })
    a.send({ t: "act", id: 1, name: "inc", input: { by: 2 } })
    const u = await a.next((f) => f.t === "u" && f.a)
    expect(u.a).toEqual([{ i: 1, ok: true, v: 2 }])
    // Only what changed travels: the ops touch total and alice's count, not the whole state.
    expect(u.d.map((op: { p: unknown[] }) => op.p.join("."))).toEqual(expect.arrayContaining(["total"]))
    expect(JSON.stringify(u.d)).not.toContain('"players":{')
    a.close()
  })

  test("a second player sees the first one's action as a delta", async () => {
    const a = await RawSocket.open(node.url)
    const b = await RawSocket.open(node.url)
    a.send(join("ann"))
    b.send(join("ben"))
    await a.next((f) => f.t === "joined")
    const bj = await b.next((f) => f.t === "joined")
    a.send({ t: "act", id: 1, name: "inc", input: { by: 3 } })
    const seen = await b.next((f) => f.t === "u" && f.d?.some((op: { p: string[] }) => op.p[0] === "players" && op.p[1] === "ann"))
    expect(seen.rev).toBeGreaterThan(bj.rev)
    expect(seen.a).toBeUndefined() // acks go to the actor only
    a.close()
    b.close()
  })

  test("an action whose earlier one (p) is not applied yet is refused out_of_order, unapplied; sent in order, each applies once with its own answer", async () => {
    // The simulator's seeds 3002 and 1035: an action frame lost in a relay cut, the next one applied
    // first, and the lost one's resend answered as a repeat: acknowledged, never applied.
    const a = await RawSocket.open(node.url)
    a.send(join("otto"))
    await a.next((f) => f.t === "joined")
    a.send({ t: "act", id: 1, name: "inc", input: { by: 1 } })
    const base = ((await a.next((f) => f.a?.some((x: { i: number }) => x.i === 1))).a[0].v as number) - 1
    a.send({ t: "act", id: 3, p: 2, name: "inc", input: { by: 4 } })
    expect((await a.next((f) => f.a?.some((x: { i: number }) => x.i === 3))).a[0]).toMatchObject({ i: 3, ok: false, c: "out_of_order" })
    a.send({ t: "act", id: 2, p: 1, name: "inc", input: { by: 2 } })
    expect((await a.next((f) => f.a?.some((x: { i: number }) => x.i === 2))).a[0]).toEqual({ i: 2, ok: true, v: base + 3 })
    a.send({ t: "act", id: 3, p: 2, name: "inc", input: { by: 4 } })
    expect((await a.next((f) => f.a?.some((x: { i: number }) => x.i === 3))).a[0]).toEqual({ i: 3, ok: true, v: base + 7 })
    // A p that is not before its own id is a bad frame, said so.
    a.send({ t: "act", id: 4, p: 4, name: "inc", input: { by: 1 } })
    expect(await a.next((f) => f.t === "error" && f.ref === 4)).toMatchObject({ code: "bad_request" })
    a.close()
  })

  test("a resent action id is applied once and answered the same", async () => {
    const a = await RawSocket.open(node.url)
    a.send(join("rita"))
    await a.next((f) => f.t === "joined")
    a.send({ t: "act", id: 7, name: "inc", input: { by: 5 } })
    const first = await a.next((f) => f.a?.some((x: { i: number }) => x.i === 7))
    a.send({ t: "act", id: 7, name: "inc", input: { by: 5 } })
    const again = await a.next((f) => f.a?.some((x: { i: number }) => x.i === 7))
    expect(again.a[0]).toEqual(first.a[0])
    // The total after one more +1 proves the resend added nothing.
    a.send({ t: "act", id: 8, name: "inc", input: { by: 1 } })
    const next = await a.next((f) => f.a?.some((x: { i: number }) => x.i === 8))
    expect(next.a[0].v).toBe(first.a[0].v + 1)
    a.close()
  })

  test("bad input gets a clear error and the connection stays usable", async () => {
    const s = await RawSocket.open(node.url)
    const cases: [string | object, string, RegExp][] = [
      ["{oops", "bad_json", /not JSON/],
      ["[1,2]", "bad_message", /JSON object/],
      [{ t: "dance" }, "unknown_message", /"dance"/],
      [{ t: "act", id: "x", name: "inc" }, "bad_message", /id/],
      [{ t: "act", id: 1, name: "inc", input: { by: 1 } }, "not_joined", /join a session/],
      [{ t: "join", session: "nope", player: "p", client: "c" }, "unknown_session", /no session nope/],
      [{ t: "join", session, player: "", client: "c" }, "invalid_id", /player/],
    ]
    for (const [frame, code, message] of cases) {
      s.send(frame)
      const err = await s.next((f) => f.t === "error", `error ${code}`)
      expect(err.code).toBe(code)
      expect(err.message).toMatch(message)
    }
    s.send(join("eve"))
    await s.next((f) => f.t === "joined")
    s.send({ t: "act", id: 1, name: "jump", input: {} })
    expect((await s.next((f) => f.a)).a[0]).toMatchObject({ i: 1, ok: false, c: "unknown_action" })
    s.send({ t: "act", id: 2, name: "inc", input: { by: "lots" } })
    const invalid = (await s.next((f) => f.a)).a[0]
    expect(invalid).toMatchObject({ i: 2, ok: false, c: "invalid_input" })
    expect(invalid.m).toContain("by")
    s.send({ t: "ping", n: 4 })
    expect(await s.next((f) => f.t === "pong")).toEqual({ t: "pong", n: 4 })
    expect(s.closed).toBeUndefined()
    s.close()
  })

  test("protocol abuse closes only that connection, with a clear close code", async () => {
    const bystander = await RawSocket.open(node.url)
    bystander.send(join("bystander"))
    await bystander.next((f) => f.t === "joined")

    const big = await RawSocket.open(node.url)
    big.send(JSON.stringify({ t: "ping", pad: "x".repeat(70_000) }))
    expect((await big.next((f) => f.t === "error")).code).toBe("frame_too_large")
    expect((await big.waitClosed()).code).toBe(1009)

    const binary = await RawSocket.open(node.url)
    binary.send(new Uint8Array([1, 2, 3]))
    expect((await binary.waitClosed()).code).toBe(1003)

    const noisy = await RawSocket.open(node.url)
    for (let i = 0; i < 25; i++) noisy.send("garbage")
    expect((await noisy.waitClosed()).code).toBe(4400)

    bystander.send({ t: "act", id: 1, name: "inc", input: { by: 1 } })
    expect((await bystander.next((f) => f.a)).a[0]).toMatchObject({ ok: true })
    expect(bystander.closed).toBeUndefined()
    expect((await fetch(`${node.url}/healthz`)).status).toBe(200)
    bystander.close()
  })

  test("a frame rate that is not a positive number is refused when the server is built, naming the setting", () => {
    for (const framesPerSecond of [0, -5, Number.NaN])
      expect(() => playerSockets({} as never, undefined, { framesPerSecond, maxBufferedBytes: 1024 })).toThrow(/limits\.framesPerSecond must be a positive number/)
  })
})
