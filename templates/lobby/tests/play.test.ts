/**
 * Matchmaking as players meet it: a real node process (`baton start .`),
 * players in the lobby session on the client SDK, and the duel session the
 * lobby spawned for them.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test"
import { ActionError, createSession, join } from "batonjs/client"
import type duel from "../games/duel.ts"
import type lobby from "../games/lobby.ts"
import { type RunningNode, startNode, until } from "./node.ts"

// A real node process: starting it and playing through it can take more than the default 5 s on a busy machine.
setDefaultTimeout(30_000)
let node: RunningNode
beforeAll(async () => {
  node = await startNode()
}, 30_000)
afterAll(async () => {
  await node?.stop()
})

test("two players queue in the lobby, get a duel of their own, and play it to the end", async () => {
  const url = node.url
  const { id: lobbyId } = await createSession({ url, game: "lobby" })
  const ada = await join<typeof lobby>({ url, session: lobbyId, player: "ada" })
  const bob = await join<typeof lobby>({ url, session: lobbyId, player: "bob" })
  expect(await ada.act("queue")).toEqual({ position: 1 })
  await bob.act("queue")
  await until(() => !!ada.state.match && !!bob.state.match, "both see their match")
  const match = ada.state.match?.session as string
  expect(bob.state.match).toEqual({ session: match, opponents: ["ada"] })

  // The spawned session exists, runs the duel, and takes only its two players.
  const info = (await (await fetch(`${url}/sessions/${match}`)).json()) as { game: string }
  expect(info.game).toBe("duel")
  const intruder = await join<typeof duel>({ url, session: match, player: "mallory" }).catch((e) => e)
  expect(intruder).toBeInstanceOf(ActionError)
  expect((intruder as ActionError).code).toBe("not_your_match")

  const a = await join<typeof duel>({ url, session: match, player: "ada" })
  const b = await join<typeof duel>({ url, session: match, player: "bob" })
  for (let round = 1; round <= 2; round++) {
    await until(() => a.state.round === round && b.state.round === round, `round ${round}`)
    await a.act("choose", { hand: "rock" })
    await until(() => b.state.opponentChose, "bob sees that ada chose, not what")
    expect(JSON.stringify({ ...b.state, history: [] })).not.toContain("rock") // past rounds are revealed, this one is not
    await b.act("choose", { hand: "scissors" })
  }
  await until(() => a.ended && b.ended, "the duel ends")
  expect(a.result).toMatchObject({ winner: "ada", reason: "won" })

  // Back in the lobby: queueing again clears the old match.
  await ada.act("queue")
  await until(() => ada.state.match === null && ada.state.queued, "ada is queued again")
  for (const s of [ada, bob, a, b]) s.close()
})

test("the node stops cleanly on SIGTERM, as an orchestrator stops it", async () => {
  expect(await node.stop()).toBe(0)
  expect(node.events.some((e) => e.t === "session-spawned")).toBe(true)
})
