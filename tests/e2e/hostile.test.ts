import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { createHmac } from "node:crypto"
import { resolve } from "node:path"
import { type GameSession, join } from "batonjs/client"
import { signPlayerToken } from "batonjs/server"
import { idProblem } from "batonjs"
import fc from "fast-check"
import type counter from "../../app/games/counter.ts"
import { TestCluster } from "../support/cluster.ts"
import { EVERY_GAME, HOSTILE_IDS, hostileInput } from "../support/hostile.ts"
import { RawSocket } from "../support/raw-socket.ts"
import { waitUntil } from "../support/wait.ts"

const APP = resolve(import.meta.dir, "../fixtures/every-game")
const SECRET = "hostile-player-secret"

/** A token the node's secret really signed, for any subject: what an app with a careless login would issue. */
function tokenFor(player: string): string {
  const payload = Buffer.from(JSON.stringify({ sub: player, exp: Math.floor(Date.now() / 1000) + 600 })).toString("base64url")
  return `${payload}.${createHmac("sha256", SECRET).update(payload).digest("base64url")}`
}

async function post(url: string, body: unknown): Promise<{ status: number; json: any }> {
  // With player tokens on, creating a session takes one too.
  const headers = { "content-type": "application/json", authorization: `Bearer ${signPlayerToken(SECRET, "host")}` }
  const res = await fetch(`${url}/sessions`, { method: "POST", headers, body: JSON.stringify(body) })
  return { status: res.status, json: await res.json() }
}

/** A raw socket authenticated as `player` that has sent its join for `session`. */
async function joining(url: string, session: string, player: string, client = "c1"): Promise<RawSocket> {
  const s = await RawSocket.open(`${url}?token=${encodeURIComponent(signPlayerToken(SECRET, player))}`)
  s.send({ t: "join", session, player, client })
  return s
}

let c: TestCluster | undefined
const honest: GameSession<typeof counter>[] = []
beforeAll(async () => {
  c = await TestCluster.start(2, { BATON_PLAYER_SECRET: SECRET, BATON_FRAMES_PER_SECOND: "5000" }, APP)
}, 60_000)
afterAll(async () => {
  for (const n of c?.nodes ?? []) if (n.proc.exitCode !== null) console.log("NODE EXITED", n.proc.exitCode, n.stderr().slice(-2500))
  for (const h of honest) h.close()
  await c?.stopAll()
})

describe("hostile players against a 2-node cluster running every example game and template", () => {
  test("hostile ids and inputs through both nodes: nodes stay healthy, other sessions go on, refusals say why", async () => {
    const urls = c!.nodes.map((n) => n.url)

    // Bystanders: one counter session, a player on each node (one of them relayed), acting all along.
    const bystand = (await post(urls[0]!, { game: "counter" })).json.id as string
    for (const [i, player] of ["ada", "bob"].entries())
      honest.push(await join<typeof counter>({ url: urls[i]!, session: bystand, player, token: signPlayerToken(SECRET, player) }))
    let playing = true
    let acked = 0
    const loops = honest.map(async (h) => {
      for (let k = 0; playing && k < 2_000; k++) {
        await h.act("inc", { by: 1 })
        acked++
      }
    })

    const inputs = fc.sample(hostileInput, { numRuns: 40, seed: 7 })
    let refusedIds = 0
    let joined = 0
    let answers = 0
    for (const game of EVERY_GAME) {
      for (const url of urls) {
        // Hostile player ids in a duel's options are refused as options, with the field named.
        if (game.name === "duel") {
          const bad = await post(url, { game: "duel", options: { players: ["__proto__", "constructor"] } })
          expect(bad.status).toBe(400)
          expect(bad.json.error.code).toBe("invalid_options")
        }
        const session = (await post(url, { game: game.name, options: game.name === "duel" ? { players: ["ada", "Zoë"] } : undefined })).json.id as string
        expect(typeof session).toBe("string")
        for (const player of HOSTILE_IDS) {
          const s = await RawSocket.open(`${url}?token=${encodeURIComponent(tokenFor(player))}`)
          if (idProblem(player)) {
            // The token is genuine, its subject is not an id a node can hold: refused at the upgrade, with the reason.
            const err = await s.next((f) => f.t === "error", `the refusal of ${JSON.stringify(player)}`)
            expect(err.code).toBe("unauthorized")
            expect((await s.waitClosed()).code).toBe(4401)
            refusedIds++
            continue
          }
          s.send({ t: "join", session, player, client: `c-${joined}` })
          const reply = await s.next((f) => f.t === "joined" || f.t === "error", `${player}'s join`)
          if (reply.t === "joined") {
            joined++
            for (const [k, input] of inputs.entries()) {
              const name = k % 5 === 0 ? "__proto__" : (Object.keys(game.actions)[k % Object.keys(game.actions).length] as string)
              s.send({ t: "act", id: k + 1, name, input })
            }
            s.send({ t: "ping", n: -1 })
            await waitUntil(() => s.closed || s.frames.some((f) => f.t === "pong" && f.n === -1), `the node read ${player}'s frames`, { timeoutMs: 20_000 })
            // Answers, not frames: a loaded node answers many actions in one frame.
            for (const f of s.frames) answers += f.t === "error" ? 1 : f.t === "u" && Array.isArray(f.a) ? f.a.length : 0
          }
          // A join frame naming a hostile id over a connection without a token is refused by the protocol too.
          s.send({ t: "join", session, player: "__proto__", client: "x" })
          s.close()
        }
        // Ids in URLs follow the same rule.
        const odd = await fetch(`${url}/sessions/__proto__`)
        expect(odd.status).toBe(400)
        expect(((await odd.json()) as any).error.code).toBe("invalid_id")
      }
    }
    playing = false
    await Promise.all(loops)

    expect(refusedIds).toBeGreaterThan(10)
    expect(joined).toBeGreaterThan(10)
    // Each joined player sent 40 actions; most are answered one by one (1,730 answers for 46 joins, quiet).
    expect(answers).toBeGreaterThan(joined * 10)
    for (const n of c!.nodes) {
      expect(n.proc.exitCode).toBeNull()
      const health = await fetch(`${n.url}/healthz`)
      expect(health.status).toBe(200)
      expect((await fetch(`${n.url}/games`)).status).toBe(200)
    }
    // The bystanders' session counted every acknowledged action once: nothing else touched it.
    await waitUntil(() => honest.every((h) => h.state.total === acked), "both bystanders see every acknowledged action")
    expect(acked).toBeGreaterThan(0)
  }, 180_000)

  test("a join frame naming a reserved id gets invalid_id and the connection stays usable", async () => {
    const cluster = c!
    const url = cluster.nodes[1]!.url
    const session = (await post(url, { game: "counter" })).json.id as string
    const s = await joining(url, session, "dora", "__proto__")
    const err = await s.next((f) => f.t === "error", "the refusal")
    expect(err.code).toBe("invalid_id")
    expect(err.message).toContain("client")
    s.send({ t: "join", session, player: "dora", client: "c1" })
    await s.next((f) => f.t === "joined", "the join that follows")
    s.send({ t: "act", id: 1, name: "inc", input: { by: 3 } })
    const ack = await s.next((f) => f.t === "u" && f.a?.length, "the ack")
    expect(ack.a[0]).toEqual({ i: 1, ok: true, v: 3 })
    s.close()
  }, 30_000)

  test("an exception in a handler closes that connection with an error id, is counted, and the node goes on", async () => {
    const cluster = c!
    const url = cluster.nodes[0]!.url
    const session = (await post(url, { game: "fragile" })).json.id as string
    const s = await joining(url, session, "breaks-the-view")
    const err = await s.next((f) => f.t === "error", "the internal error")
    expect(err.code).toBe("internal")
    expect(err.message).not.toContain("exploded")
    expect(typeof err.errorId).toBe("string")
    expect((await s.waitClosed()).code).toBe(1011)
    // Logged (errors go to stderr), with the same id, by whichever node runs the session (the join may have been relayed).
    const [node, logged] = await waitUntil(() => {
      for (const n of cluster.nodes) {
        const line = n.stderr().split("\n").find((l) => l.includes('"handler failed"') && l.includes(err.errorId))
        if (line) return [n, line] as const
      }
    }, `the failure ${err.errorId} in a node's log`)
    expect(logged).toContain("exploded")
    const metrics = await (await fetch(`${node.url}/metrics`)).text()
    expect(metrics).toMatch(/baton_handler_errors_total\{site="player-frame"\} [1-9]/)
    // Another player of the same session is served.
    const ok = await join<typeof counter>({ url, session, player: "eve", token: signPlayerToken(SECRET, "eve") })
    honest.push(ok)
    for (const n of cluster.nodes) {
      expect(n.proc.exitCode).toBeNull()
      expect((await fetch(`${n.url}/healthz`)).status).toBe(200)
    }
  }, 30_000)

  test("a view that throws while another player's action is sent out closes that player's link only", async () => {
    const cluster = c!
    const url = cluster.nodes[1]!.url
    const session = (await post(url, { game: "fragile" })).json.id as string
    const victim = await joining(url, session, "breaks-later")
    await victim.next((f) => f.t === "joined", "breaks-later's join")
    const eve = await joining(url, session, "eve")
    await eve.next((f) => f.t === "joined", "eve's join")
    eve.send({ t: "act", id: 1, name: "add", input: {} })
    const ack = await eve.next((f) => f.t === "u" && f.a?.length, "eve's ack")
    expect(ack.a[0]).toEqual({ i: 1, ok: true })
    const err = await victim.next((f) => f.t === "error", "the victim's internal error")
    expect(err).toMatchObject({ code: "internal", errorId: expect.any(String) })
    expect((await victim.waitClosed()).code).toBe(1011)
    // The session and the node go on.
    eve.send({ t: "act", id: 2, name: "add", input: {} })
    await eve.next((f) => f.t === "u" && f.a?.[0]?.i === 2, "eve's second ack")
    for (const n of cluster.nodes) expect(n.proc.exitCode).toBeNull()
    eve.close()
  }, 30_000)

  test("a timer that leaves a value JSON cannot carry, with nobody attached, is undone and logged; the session and node go on", async () => {
    const cluster = c!
    const url = cluster.nodes[0]!.url
    const session = (await post(url, { game: "fragile" })).json.id as string
    const s = await joining(url, session, "frank")
    await s.next((f) => f.t === "joined", "frank's join")
    s.send({ t: "act", id: 1, name: "poisonLater", input: {} })
    await s.next((f) => f.t === "u" && f.a?.[0]?.i === 1, "the ack")
    s.close()
    // The step is refused where it ran, so no checkpoint or replication ever meets the value.
    const faulted = (n: (typeof cluster.nodes)[number]) => n.stderr().split("\n").find((l) => l.includes('"game code failed"') && l.includes(session))
    await waitUntil(() => cluster.nodes.some(faulted), "the fault in the owner's log", { timeoutMs: 20_000 })
    const line = cluster.nodes.map(faulted).find(Boolean)!
    expect(line).toContain("state.big is a bigint")
    for (const n of cluster.nodes) {
      expect(n.stderr()).not.toContain("checkpoint failed")
      expect(n.stderr()).not.toContain("cannot be replicated")
    }
    const back = await joining(url, session, "frank", "c2")
    await back.next((f) => f.t === "joined", "frank's join after the fault")
    back.send({ t: "act", id: 1, name: "add", input: {} })
    await back.next((f) => f.t === "u" && f.a?.[0]?.i === 1, "an ack after the fault")
    back.close()
    for (const n of cluster.nodes) {
      expect(n.proc.exitCode).toBeNull()
      expect((await fetch(`${n.url}/healthz`)).status).toBe(200)
    }
  }, 60_000)
})
