/**
 * The app as players meet it: a real node process (`baton start .`), the
 * HTTP API and two players on the client SDK over WebSockets.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test"
import { ActionError, createSession, join } from "batonjs/client"
import type salvo from "../games/salvo.ts"
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

test("two players join through the SDK, take turns, and never see the other fleet", async () => {
  const { id } = await createSession({ url: node.url, game: "salvo" })
  const ada = await join<typeof salvo>({ url: node.url, session: id, player: "ada" })
  const bob = await join<typeof salvo>({ url: node.url, session: id, player: "bob" })
  await until(() => ada.state.phase === "playing" && bob.state.phase === "playing", "the game starts")
  expect(ada.state.turn).toBe("ada")
  expect(ada.state.mine.filter((c) => c === "ship")).toHaveLength(7)
  expect(ada.state.theirs.every((c) => c === "unknown")).toBe(true)

  // bob must wait his turn: the action is refused with a stable code.
  const early = await bob.act("fire", { cell: 0 }).catch((e) => e)
  expect(early).toBeInstanceOf(ActionError)
  expect((early as ActionError).code).toBe("not_your_turn")

  // ada fires along the first row until she misses; each result reaches both players.
  let cell = 0
  for (;;) {
    const { result } = (await ada.act("fire", { cell })) as { result: string }
    await until(() => bob.state.mine[cell] === (result === "miss" ? "miss" : "hit"), `bob sees ada's shot at ${cell}`)
    if (result === "miss") break
    cell++
  }
  await until(() => ada.state.turn === "bob", "the turn passes to bob")
  expect(ada.state.theirs.includes("ship")).toBe(false)

  ada.close()
  bob.close()
})

test("the node stops cleanly on SIGTERM, as an orchestrator stops it", async () => {
  expect(await node.stop()).toBe(0)
  expect(node.events.some((e) => e.t === "stopped")).toBe(true)
})
