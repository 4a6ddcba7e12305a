import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { createSession, join } from "batonjs/client"
import type notes from "../fixtures/app/notes.ts"
import { type NodeProcess, startNodeProcess, stopAllNodes } from "../support/node-process.ts"
import { RawSocket } from "../support/raw-socket.ts"
import { waitUntil } from "../support/wait.ts"

let node: NodeProcess
beforeAll(async () => {
  node = await startNodeProcess({ env: { BATON_IDLE_MS: "300", BATON_LINGER_MS: "300", BATON_SWEEP_MS: "50" } })
})
afterAll(stopAllNodes)

const exists = async (id: string) => (await fetch(`${node.url}/sessions/${id}`)).status === 200

describe("session collection", () => {
  test("an ended session is collected after its linger time and its players are told it is gone", async () => {
    const { id } = await createSession({ url: node.url, game: "notes" })
    const raw = await RawSocket.open(node.url)
    raw.send({ t: "join", session: id, player: "ada", client: "c1" })
    await raw.next((f) => f.t === "joined")
    raw.send({ t: "act", id: 1, name: "finish" })
    const ended = await raw.next((f) => f.status === "ended")
    expect(ended.result).toEqual({ winner: "ada" })
    expect((await raw.waitClosed()).code).toBe(4404)
    await waitUntil(async () => !(await exists(id)), "the ended session is gone")
    await node.waitForEvent("session-collected", (e) => e.session === id)
  })

  test("an idle session with nobody connected is ended, then collected; a connected one is kept", async () => {
    const idle = await createSession({ url: node.url, game: "notes" })
    const busy = await createSession({ url: node.url, game: "notes" })
    const player = await join<typeof notes>({ url: node.url, session: busy.id, player: "ada" })
    await waitUntil(async () => !(await exists(idle.id)), "the idle session is collected")
    await node.waitForEvent("session-idle-ended", (e) => e.session === idle.id)
    expect(await exists(busy.id)).toBe(true)
    expect(player.ended).toBe(false)
    player.close()
  })
})
