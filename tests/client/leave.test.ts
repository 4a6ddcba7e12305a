/**
 * The SDK's leave as a state machine, over a scripted socket: what the node
 * says and when is chosen here, so orders a real node rarely produces are
 * exact. The leave against real nodes is in sdk.test.ts and sdk-cluster.test.ts.
 */
import { expect, test } from "bun:test"
import { ActionError, GameSession } from "batonjs/client"
import { ScriptedSocket } from "../support/scripted-socket.ts"
import { waitUntil } from "../support/wait.ts"

const joined = { t: "joined", session: "s1", game: "g", player: "ada", seat: 0, view: {}, rev: 1, seq: 0, status: "open" }

async function seated(): Promise<{ s: GameSession; ws: ScriptedSocket }> {
  ScriptedSocket.all = []
  const s = new GameSession({ url: "http://127.0.0.1:1", session: "s1", player: "ada", WebSocket: ScriptedSocket as unknown as typeof WebSocket, livenessMs: 0, direct: false })
  const started = s.start()
  await Bun.sleep(0)
  const ws = ScriptedSocket.all[0] as ScriptedSocket
  ws.say(joined)
  await started
  return { s, ws }
}

test("a relay that joins the session's new owner again (a second joined on the same socket) gets the leave again", async () => {
  // A leave queued at an owner that then handed the session over was never applied; the relaying node
  // joined the new owner on the player's behalf, and the SDK, having sent its leave on this socket, waited.
  const { s, ws } = await seated()
  let settled = false
  const leaving = s.leave(0).then(() => (settled = true))
  expect(ws.leaves()).toBe(1)
  ws.say({ t: "reconnect", reason: "handed off", urls: [] })
  ws.say({ ...joined, rev: 2 })
  expect(ws.leaves()).toBe(2)
  ws.say({ t: "left", session: "s1" })
  await leaving
  expect(settled).toBe(true)
  expect(s.status).toBe("closed")
})

test("a leave refused as unavailable (the session's queue is full) or rate_limited goes again shortly", async () => {
  const { s, ws } = await seated()
  const leaving = s.leave()
  ws.say({ t: "error", code: "unavailable", message: "waiting; try again", ref: "leave" })
  await waitUntil(() => ws.leaves() === 2, "the leave goes again")
  ws.say({ t: "error", code: "rate_limited", message: "slow down", ref: "leave" })
  await waitUntil(() => ws.leaves() === 3, "the leave goes again")
  ws.say({ t: "left", session: "s1" })
  await leaving
})

test("refusals that mean the seat is not this player's any more resolve the leave; others reject it", async () => {
  const a = await seated()
  const first = a.s.leave()
  a.ws.say({ t: "error", code: "not_seated", message: "ada holds no seat", ref: "leave" })
  await first
  const b = await seated()
  const second = b.s.leave()
  b.ws.say({ t: "error", code: "game_error", message: "onLeave failed", ref: "leave" })
  const error = (await second.catch((e) => e)) as ActionError
  expect(error).toBeInstanceOf(ActionError)
  expect(error.code).toBe("game_error")
})

test("after the session is gone, leave() resolves: there is no seat to give up", async () => {
  const { s, ws } = await seated()
  ws.onclose?.({ code: 4404, reason: "session gone" })
  expect(s.status).toBe("closed")
  expect(s.error?.code).toBe("session_gone")
  await s.leave()
})

test("a leave waits for the actions sent before it, then goes", async () => {
  const { s, ws } = await seated()
  const act = s.act("inc" as never)
  const leaving = s.leave()
  expect(ws.leaves()).toBe(0)
  ws.say({ t: "u", rev: 2, a: [{ i: 1, ok: true }] })
  await act
  expect(ws.leaves()).toBe(1)
  ws.say({ t: "left", session: "s1" })
  await leaving
})

test("a direct connection given up after its join went out holds the leave until its close is answered", async () => {
  // Sent on the relayed connection at once, the leave could be read before that join, which then seated the player again.
  ScriptedSocket.all = []
  const s = new GameSession({ url: "http://127.0.0.1:1", session: "s1", player: "ada", WebSocket: ScriptedSocket as unknown as typeof WebSocket, livenessMs: 0 })
  const started = s.start()
  await Bun.sleep(0)
  const relayed = ScriptedSocket.all[0] as ScriptedSocket
  relayed.say({ ...joined, owner: "http://127.0.0.1:2" })
  await started
  await waitUntil(() => ScriptedSocket.all[1]?.sent.some((f) => f.includes('"join"')) === true, "the direct connection's join is out")
  const direct = ScriptedSocket.all[1] as ScriptedSocket
  const leaving = s.leave(0)
  expect(relayed.leaves() + direct.leaves()).toBe(0)
  // The session's node never answers: the direct connection is given up after its patience.
  await waitUntil(() => direct.readyState === 3, "the direct connection is given up", { timeoutMs: 10_000 })
  expect(relayed.leaves()).toBe(0)
  direct.onclose?.({ code: 1000, reason: "not needed" })
  expect(relayed.leaves()).toBe(1)
  relayed.say({ t: "left", session: "s1" })
  await leaving
})

test("a leave sent on a connection that dropped: the next one's join only gives the seat up; a node that seats the player anyway gets the leave after it", async () => {
  // The first leave may have been applied with only its "left" lost: seated again by a plain join, the
  // player would run the game's onJoin and onLeave a second time.
  for (const answer of ["left", "joined"] as const) {
    const { s, ws } = await seated()
    const leaving = s.leave(0)
    expect(ws.leaves()).toBe(1)
    ws.onclose?.({ code: 1006, reason: "connection lost" })
    await waitUntil(() => ScriptedSocket.all.length === 2 && (ScriptedSocket.all[1]?.sent.length ?? 0) > 0, "the SDK reconnects and joins")
    const next = ScriptedSocket.all[1] as ScriptedSocket
    expect(JSON.parse(next.sent[0] as string)).toMatchObject({ t: "join", session: "s1", player: "ada", leave: true })
    if (answer === "joined") {
      // A node of an older release does not know the flag: the player is seated, and the leave goes as before.
      next.say({ ...joined, rev: 3 })
      expect(next.leaves()).toBe(1)
    } else expect(next.leaves()).toBe(0)
    next.say({ t: "left", session: "s1" })
    await leaving
    expect(s.status).toBe("closed")
  }
})
