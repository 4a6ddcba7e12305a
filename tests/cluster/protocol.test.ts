import { describe, expect, test } from "bun:test"
import { fromVersion1, PeerFailure, PeerRequestError, PROTOCOL_VERSION, toPeerError, toVersion1 } from "../../framework/cluster/protocol.ts"
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
