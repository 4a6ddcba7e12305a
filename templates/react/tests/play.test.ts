/**
 * The app as players meet it: a real node process (`baton start .`), the
 * HTTP API and two players on the client SDK over WebSockets (what
 * `useSession` runs on in the page).
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test"
import { ActionError, createSession, join } from "batonjs/client"
import type connectFour from "../games/connect-four.ts"
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

test("two players join through the SDK, drop discs in turn, and the first four in a row wins", async () => {
  const { id } = await createSession({ url: node.url, game: "connect-four" })
  const ada = await join<typeof connectFour>({ url: node.url, session: id, player: "ada" })
  const bob = await join<typeof connectFour>({ url: node.url, session: id, player: "bob" })
  await until(() => ada.state.phase === "playing" && bob.state.phase === "playing", "the game starts")
  expect(ada.state.turns.current).toBe("ada")

  // bob must wait his turn: the action is refused with a stable code.
  const early = await bob.act("drop", { column: 0 }).catch((e) => e)
  expect(early).toBeInstanceOf(ActionError)
  expect((early as ActionError).code).toBe("not_your_turn")

  // ada builds a row along the bottom while bob stacks on column 6; each disc reaches both players.
  for (let column = 0; column < 3; column++) {
    expect(await ada.act("drop", { column })).toEqual({ row: 5, won: false })
    await until(() => bob.state.turns.current === "bob", `bob's turn after ada's disc in column ${column}`)
    await bob.act("drop", { column: 6 })
  }
  expect(await ada.act("drop", { column: 3 })).toEqual({ row: 5, won: true })
  await until(() => bob.ended, "bob sees the end")
  expect(bob.result).toEqual({ winner: "ada", reason: "four_in_a_row" })
  expect(bob.state.line).toEqual([35, 36, 37, 38])

  ada.close()
  bob.close()
})

test("the node stops cleanly on SIGTERM, as an orchestrator stops it", async () => {
  expect(await node.stop()).toBe(0)
  expect(node.events.some((e) => e.t === "stopped")).toBe(true)
})
