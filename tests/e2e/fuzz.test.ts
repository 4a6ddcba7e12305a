import { afterAll, describe, expect, test } from "bun:test"
import { createSession, type GameSession, join } from "batonjs/client"
import { signPlayerToken } from "batonjs/server"
import type notes from "../fixtures/app/notes.ts"
import { TestCluster } from "../support/cluster.ts"
import { RawSocket } from "../support/raw-socket.ts"
import { waitUntil } from "../support/wait.ts"

const SECRET = "fuzz-player-secret"
const FRAMES = 10_000
const KNOWN_CODES = new Set([
  "bad_json", "bad_message", "unknown_message", "unknown_session", "unknown_action", "invalid_input", "not_joined",
  "already_joined", "not_seated", "session_full", "session_ended", "bad_request", "unauthorized", "frame_too_large",
  "rate_limited", "game_error", "unavailable", "invalid_id",
])

let c: TestCluster | undefined
const honest: GameSession<typeof notes>[] = []
afterAll(async () => {
  for (const n of c?.nodes ?? []) if (n.proc.exitCode !== null) console.log("NODE EXITED", n.proc.exitCode, n.stderr().slice(-2500))
  for (const h of honest) h.close()
  await c?.stopAll()
})

/** A seeded generator, so a failing run can be replayed. */
function rng(seed: number) {
  let s = seed >>> 0
  return () => ((s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x9e3779b9) >>> 0) / 2 ** 32)
}

describe("fuzzing the player protocol against a running cluster", () => {
  test(`${FRAMES} hostile frames: every node stays up, honest sessions equal the replay of honest actions, errors are clear`, async () => {
    c = await TestCluster.start(2, { BATON_PLAYER_SECRET: SECRET, BATON_FRAMES_PER_SECOND: "5000" })
    const cluster = c
    const urls = cluster.nodes.map((n) => n.url)
    // Honest play: 3 sessions, 2 players each, acting with known texts.
    const sessions: string[] = []
    for (let i = 0; i < 3; i++) sessions.push((await createSession({ url: urls[i % 2]!, game: "notes", token: signPlayerToken(SECRET, "host") })).id)
    const acked = new Map<string, string[]>()
    for (const [i, id] of sessions.entries())
      for (const who of ["ada", "bob"]) {
        const player = `${who}${i}`
        honest.push(await join<typeof notes>({ url: urls[(i + (who === "ada" ? 0 : 1)) % 2]!, session: id, player, token: signPlayerToken(SECRET, player) }))
        acked.set(`${id}/${player}`, [])
      }
    let playing = true
    const honestLoops = honest.map(async (h) => {
      for (let k = 0; playing && k < 200; k++) {
        const text = `${h.player}-${k}`
        await h.act("add", { text })
        acked.get(`${h.id}/${h.player}`)!.push(text)
        await Bun.sleep(5)
      }
    })

    // Hostile traffic.
    const r = rng(0xba7)
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)] as T
    const victims = ["ada0", "bob0", "ada1", "bob2"]
    const frame = (): string | Uint8Array => {
      const session = r() < 0.7 ? pick(sessions) : `nope-${Math.floor(r() * 1e6)}`
      const kinds = [
        () => `{"t":"act","id":${Math.floor(r() * 100)}`, // truncated JSON
        () => "{{{" + "x".repeat(Math.floor(r() * 50)),
        () => JSON.stringify([1, 2, 3]),
        () => JSON.stringify({ t: pick(["act", "join", "leave", "ping", "hack", 42, null]) }),
        () => JSON.stringify({ t: "act", id: pick([-1, 0, 1.5, "7", 1e30, null]), name: "add", input: { text: "x" } }),
        () => JSON.stringify({ t: "act", id: 1 + Math.floor(r() * 50), name: pick(["add", "secret", "nope", "__proto__", "constructor", "toString"]), input: pick([{ text: 5 }, { text: "" }, null, "x", { text: "y".repeat(300) }, { value: {} }]) }),
        () => JSON.stringify({ t: "join", session, player: pick(victims), client: `c${Math.floor(r() * 9)}` }), // someone else
        () => JSON.stringify({ t: "join", session, player: "mallory", client: pick(["c1", "c-ada0", "c-x"]) }),
        () => JSON.stringify({ t: "act", id: 1 + Math.floor(r() * 5), name: "add", input: { text: "replayed" } }), // replayed ids
        () => JSON.stringify({ t: "join", session, player: "mallory", client: "m", token: "forged.token", extra: { deep: { deeper: [1, 2, 3] } } }),
        () => new Uint8Array([0, 1, 2, 3]), // binary
        () => JSON.stringify({ t: "ping", pad: "z".repeat(70_000) }), // over the frame limit
        () => "",
      ]
      return pick(kinds)()
    }
    const errors: { code: string; message: string }[] = []
    let sent = 0
    let sockets = 0
    let refused = 0
    while (sent < FRAMES) {
      // Mostly a valid player of its own (mallory) sending garbage, and now and then forged,
      // expired or missing credentials (refused at once with 4401).
      const cred = r() < 0.85 ? "mallory" : pick(["none", "forged", "expired"])
      const token =
        cred === "mallory" ? signPlayerToken(SECRET, "mallory") : cred === "forged" ? signPlayerToken("guess", "ada0") : cred === "expired" ? signPlayerToken(SECRET, "ada0", 1, Date.now() - 60_000) : undefined
      const s = await RawSocket.open(token ? `${pick(urls)}?token=${encodeURIComponent(token)}` : pick(urls))
      sockets++
      if (cred !== "mallory") {
        if ((await s.waitClosed()).code === 4401) refused++
        continue
      }
      for (let i = 0; i < 40 && sent < FRAMES && !s.closed; i++) {
        s.send(frame())
        sent++
      }
      // Wait until the node has read everything (its answer to a last ping), or closed the socket.
      if (!s.closed) s.send({ t: "ping", n: -1 })
      await waitUntil(() => s.closed || s.frames.some((f) => f.t === "pong" && f.n === -1), "the node has read the batch", { timeoutMs: 5_000 })
      for (const f of s.frames) if (f.t === "error") errors.push({ code: f.code, message: f.message })
      s.close()
    }
    expect(refused).toBeGreaterThan(0)
    playing = false
    await Promise.all(honestLoops)

    // Every node is up and answers.
    for (const n of cluster.nodes) {
      expect(n.proc.exitCode).toBeNull()
      expect((await fetch(`${n.url}/healthz`)).status).toBe(200)
    }
    // Errors were clear: a known code and a message saying what was wrong.
    expect(errors.length).toBeGreaterThan(100)
    for (const e of errors) {
      expect(KNOWN_CODES.has(e.code)).toBe(true)
      expect(e.message.length).toBeGreaterThan(5)
    }
    // Honest sessions hold exactly the honest actions, in order (nobody acted as an honest player).
    for (const h of honest) {
      const mine = acked.get(`${h.id}/${h.player}`)!
      await waitUntil(() => h.state.notes.filter((n) => n.by === h.player).length === mine.length, `${h.player} sees all its notes`)
      expect(h.state.notes.filter((n) => n.by === h.player).map((n) => n.text)).toEqual(mine)
      for (const n of h.state.notes) expect(["ada0", "bob0", "ada1", "bob1", "ada2", "bob2", "mallory", "timer"]).toContain(n.by)
    }
    console.log(`fuzz: ${sent} hostile frames over ${sockets} sockets, ${errors.length} error frames; honest actions: ${[...acked.values()].reduce((s, x) => s + x.length, 0)}`)
  }, 150_000)
})
