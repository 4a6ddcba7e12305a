/**
 * The app as players meet it: a real node process (`baton start .`) running
 * ticks, and two players on the client SDK receiving them as deltas.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test"
import { createSession, join } from "batonjs/client"
import { COURT } from "../games/pong.ts"
import type pong from "../games/pong.ts"
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

test("two players see the ball served and each other's paddle move, live", async () => {
  const { id } = await createSession({ url: node.url, game: "pong" })
  const ada = await join<typeof pong>({ url: node.url, session: id, player: "ada" })
  const bob = await join<typeof pong>({ url: node.url, session: id, player: "bob" })
  await until(() => bob.state.phase === "serving", "both are seated and the ball is about to be served")

  await ada.act("move", { dir: -1 })
  await until(() => (bob.state.left?.y ?? COURT.h) < COURT.h / 2 - 50, "bob sees ada's paddle go up")
  await ada.act("move", { dir: 0 })

  await until(() => ada.state.phase === "playing", "the serve", 3_000)
  const x0 = ada.state.ball.x
  await until(() => Math.abs(ada.state.ball.x - x0) > 20, "the ball moves tick by tick")
  await until(() => JSON.stringify(ada.state.ball) === JSON.stringify(bob.state.ball), "both see the same ball")
  expect(ada.state.right?.player).toBe("bob")

  ada.close()
  bob.close()
})

test("the node stops cleanly on SIGTERM, as an orchestrator stops it", async () => {
  expect(await node.stop()).toBe(0)
})
