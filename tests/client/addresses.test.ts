/**
 * Where the SDK reconnects: the addresses it was given, the members a node
 * named, and the ones a node hinted at when it sent the player away. Over a
 * scripted socket, so which attempt fails is chosen here.
 */
import { expect, test } from "bun:test"
import { GameSession } from "batonjs/client"
import { ScriptedSocket } from "../support/scripted-socket.ts"
import { waitUntil } from "../support/wait.ts"

// As a node of the first peer protocol answers: no `nodes`, so the player learns no members from it.
const joined = { t: "joined", session: "s1", game: "g", player: "ada", seat: 0, view: {}, rev: 1, seq: 0, status: "open" }

/** A player seated through old-a.test, which names no members. */
async function seatedAtOldNode(): Promise<{ s: GameSession; first: ScriptedSocket }> {
  ScriptedSocket.all = []
  const s = new GameSession({ url: "http://old-a.test:1", session: "s1", player: "ada", WebSocket: ScriptedSocket as unknown as typeof WebSocket, livenessMs: 0, direct: false, backoffMs: 1, maxBackoffMs: 4 })
  const started = s.start()
  await Bun.sleep(0)
  const first = ScriptedSocket.all[0] as ScriptedSocket
  first.say(joined)
  await started
  return { s, first }
}

test("an address a node hinted at is kept: one failed attempt there does not leave only the addresses known before, all gone in a rolling deploy", async () => {
  // The upgrade check (a roll from the first peer protocol) once left a player reconnecting for good: the
  // stopping node's hint was tried once, failed, and every later attempt went to the old nodes, all stopped.
  const { s, first } = await seatedAtOldNode()
  first.say({ t: "reconnect", reason: "node stopping", urls: ["http://new-d.test:1"] })
  first.drop(1001, "node stopping")
  // Six attempts that fail before anything answers the join (the new node still starting, the old one gone).
  const tried: string[] = []
  for (let i = 1; i <= 6; i++) {
    await waitUntil(() => (ScriptedSocket.all[i]?.sent.length ?? 0) > 0, `attempt ${i} sends its join`)
    const ws = ScriptedSocket.all[i] as ScriptedSocket
    tried.push(new URL(ws.url).hostname)
    ws.drop()
  }
  expect(tried[0]).toBe("new-d.test")
  expect(tried.filter((h) => h === "new-d.test").length).toBeGreaterThanOrEqual(3)
  expect(tried).toContain("old-a.test")
  // And once the hinted node answers, the player is seated there (attempts to the old address still fail).
  let next = 7
  for (;;) {
    await waitUntil(() => (ScriptedSocket.all[next]?.sent.length ?? 0) > 0, `attempt ${next} sends its join`)
    const ws = ScriptedSocket.all[next++] as ScriptedSocket
    if (new URL(ws.url).hostname !== "new-d.test") {
      ws.drop()
      continue
    }
    ws.say(joined)
    break
  }
  await waitUntil(() => s.status === "open", "seated again")
  s.close()
})

test("a hint that is not a node's address is not kept", async () => {
  const { s, first } = await seatedAtOldNode()
  first.say({ t: "reconnect", reason: "node stopping", urls: ["javascript:alert(1)", 42, "ftp://x.test/"] })
  first.drop(1001, "node stopping")
  await waitUntil(() => (ScriptedSocket.all[1]?.sent.length ?? 0) > 0, "the SDK reconnects")
  expect(new URL((ScriptedSocket.all[1] as ScriptedSocket).url).hostname).toBe("old-a.test")
  s.close()
})
