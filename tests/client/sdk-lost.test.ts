import { afterAll, expect, test } from "bun:test"
import { resolve } from "node:path"
import { ActionError, createSession, type GameSession, join } from "batonjs/client"
import { replicaSet } from "../../framework/cluster/index.ts"
import type tally from "../fixtures/app/tally.ts"
import { TestCluster } from "../support/cluster.ts"
import { waitUntil } from "../support/wait.ts"

/**
 * Issue 15's chaos run: two nodes of four killed at once. The sessions whose
 * every copy was on those two are gone (no data dir); their players heard
 * unknown_session 40-65 s later. Now they hear session_lost as soon as a
 * survivor's takeover round finds no copy left: real processes, since what
 * tells a dead process from a cut-off one is its address refusing a
 * connection (Bun's fetch, ECONNREFUSED).
 */
let c: TestCluster | undefined
const open: GameSession[] = []
afterAll(async () => {
  for (const s of open) s.close()
  await c?.stopAll()
})

test("two nodes of four killed at once: a player of a session whose every copy died hears session_lost", async () => {
  c = await TestCluster.start(4, {}, resolve(import.meta.dir, "../fixtures/app"))
  const cluster = c
  await cluster.waitConverged()
  const ids = await Promise.all(cluster.nodes.map((n) => cluster.idOf(n)))
  const members = (await cluster.members(cluster.nodes[0]!)).filter((m) => m.up && m.status === "ready")
  const doomed = new Set([ids[0], ids[1]])
  // A session whose owner and replica (the first two of its placement) are the two nodes that will die.
  let session: string | undefined
  for (let i = 0; i < 60 && !session; i++) {
    const { id } = await createSession({ url: cluster.nodes[0]!.url, game: "tally" })
    const set = replicaSet(id, members, 2).map((m) => m.id)
    if (set.every((m) => doomed.has(m))) session = id
  }
  expect(session).toBeDefined()
  const id = session as string
  // Every survivor's registry names it, and its owner is one of the two.
  for (const n of cluster.nodes.slice(2))
    await waitUntil(async () => doomed.has(((await (await fetch(`${n.url}/cluster/sessions/${id}`)).json()) as { entry: { owner: string } | null }).entry?.owner ?? ""), "a survivor's registry names the session")
  const player = await join<typeof tally>({ url: cluster.nodes[3]!.url, session: id, player: "ada", backoffMs: 20, maxBackoffMs: 200 })
  open.push(player as unknown as GameSession)
  expect(await player.act("add", { n: 1 })).toBe(1)

  await Promise.all([cluster.nodes[0]!.kill(), cluster.nodes[1]!.kill()])
  const killedAt = performance.now()
  const error = await player.act("add", { n: 1 }).then(
    () => undefined,
    (e: unknown) => e,
  )
  const ms = Math.round(performance.now() - killedAt)
  console.log(`session_lost after a double SIGKILL: the player told ${ms} ms after the kills`)
  expect(error).toBeInstanceOf(ActionError)
  expect((error as ActionError).code).toBe("session_lost")
  expect((error as ActionError).message).toContain(`session ${id} is lost`)
  expect(player.status).toBe("closed")
}, 90_000)
