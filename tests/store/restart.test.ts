import { afterAll, describe, expect, test } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join as joinPath } from "node:path"
import { rngOver, seedRng } from "batonjs"
import { type GameSession, join } from "batonjs/client"
import type notes from "../fixtures/app/notes.ts"
import { freePort, startNodeProcess, stopAllNodes } from "../support/node-process.ts"
import { waitUntil } from "../support/wait.ts"

const dataDir = mkdtempSync(joinPath(tmpdir(), "baton-restart-"))
const players: GameSession[] = []
afterAll(async () => {
  for (const p of players) p.close()
  await stopAllNodes()
  rmSync(dataDir, { recursive: true, force: true })
})

describe("disk store (BATON_DATA_DIR)", () => {
  test("a node stopped with SIGTERM and started again resumes its sessions, state, timers and players", async () => {
    const port = freePort()
    const env = { BATON_DATA_DIR: dataDir, BATON_ADMIN_TOKEN: "admin" }
    const first = await startNodeProcess({ port, env })
    // A chosen seed (an operator's privilege) lets the test replay the random sequence.
    const created = await fetch(`${first.url}/sessions`, { method: "POST", headers: { authorization: "Bearer admin" }, body: JSON.stringify({ game: "notes", seed: "restart-seed" }) })
    const { id } = (await created.json()) as { id: string }
    const ada = await join<typeof notes>({ url: first.url, session: id, player: "ada", backoffMs: 50, maxBackoffMs: 200 })
    const bob = await join<typeof notes>({ url: first.url, session: id, player: "bob", backoffMs: 50, maxBackoffMs: 200 })
    players.push(ada, bob)
    await ada.act("add", { text: "before restart" })
    await bob.act("secret", { value: "bob's" })
    const rolled = [await ada.act("roll"), await ada.act("roll")]
    // A timer whose deadline falls after the restart.
    const remindAt = Date.now() + 1500
    await ada.act("remind", { ms: 1500, text: "after restart" })
    const reminders: unknown[] = []
    bob.on("reminder", (d) => reminders.push(d))

    expect(await first.stop()).toBe(0)
    expect(first.eventsOf("stopped")).toHaveLength(1)
    await waitUntil(() => ada.status === "reconnecting" && bob.status === "reconnecting", "both players notice the node went away")

    const second = await startNodeProcess({ port, env })
    expect(second.eventsOf("sessions-resumed")[0]).toMatchObject({ resumed: 1 })
    // The SDK reconnects by itself, to its seat.
    await waitUntil(() => ada.status === "open" && bob.status === "open", "both players are back", { timeoutMs: 10_000 })
    expect(ada.seat).toBe(0)
    expect(bob.seat).toBe(1)
    expect(ada.state.notes[0]).toEqual({ by: "ada", text: "before restart" })
    expect(bob.state.secrets.mine).toBe("bob's")
    expect(ada.state.rolls).toEqual(rolled as number[])

    // The timer fires on the new process, at its stored deadline (or as soon as the session resumes,
    // when the restart took longer than the timer: on a loaded machine it may; its event then had no one to reach).
    await waitUntil(() => bob.state.notes.length === 2, "the reminder fires after the restart", { timeoutMs: 10_000 })
    expect(Date.now()).toBeGreaterThanOrEqual(remindAt)
    expect(reminders.length).toBeLessThanOrEqual(1)
    expect(bob.state.notes).toEqual([
      { by: "ada", text: "before restart" },
      { by: "timer", text: "after restart" },
    ])

    // Play continues; the rng continues its stored sequence rather than restarting.
    expect(await bob.act("add", { text: "still here" })).toBe(3)
    const third = await ada.act("roll")
    const replay = rngOver(seedRng("restart-seed"))
    expect([...rolled, third]).toEqual([replay.int(1, 6), replay.int(1, 6), replay.int(1, 6)])
    await waitUntil(() => ada.state.notes.length === 3, "ada sees bob's new note")
    const info = (await (await fetch(`${second.url}/sessions/${id}`)).json()) as { players: { player: string }[] }
    expect(info.players.map((p) => p.player)).toEqual(["ada", "bob"])
  })
})
