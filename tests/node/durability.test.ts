import { afterAll, describe, expect, test } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join as joinPath, resolve } from "node:path"
import { createSession, type GameSession, join } from "batonjs/client"
import { rngOver, seedRng } from "../../framework/game/rng.ts"
import type { journal } from "../fixtures/durable/index.ts"
import { TEST_SECRET, TestCluster } from "../support/cluster.ts"
import { freePort, type NodeProcess, startNodeProcess, stopAllNodes } from "../support/node-process.ts"
import { waitUntil } from "../support/wait.ts"

const APP = resolve(import.meta.dir, "../fixtures/durable")
const dirs: string[] = []
const sessions: GameSession[] = []
afterAll(async () => {
  for (const s of sessions) s.close()
  await stopAllNodes()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

const PLAYERS = 4
/** Actions each player keeps in flight: acks then wait on the same disk write (group commit). */
const WINDOW = 4

/**
 * Players act in a loop on a "replicated" session of a node with a data dir
 * and no live replica; the node is SIGKILLed at random moments (after a
 * random number of acknowledged actions) and restarted on the same data dir
 * and port. Every action a player saw acknowledged must be in the state
 * afterwards, with the value it returned, and no action may be applied twice.
 */
async function killUnderLoad(env: Record<string, string>, kills: number, seed: number): Promise<{ acked: number; applied: number }> {
  const dir = mkdtempSync(joinPath(tmpdir(), "baton-durable-"))
  dirs.push(dir)
  const port = freePort()
  const start = () => startNodeProcess({ app: APP, port, env: { ...env, BATON_DATA_DIR: dir }, lifetimeMs: 90_000 })
  let node: NodeProcess = await start()
  const { id } = await createSession({ url: node.url, game: "journal" })
  const acked: string[] = []
  const failures: unknown[] = []
  /** Acks whose value was not the action's own (a resend after a restart answered without it). */
  const wrongValues: { n: string; value: unknown }[] = []
  let stopped = false
  const players = await Promise.all(
    Array.from({ length: PLAYERS }, (_, i) => join<typeof journal>({ url: node.url, session: id, player: `p${i}`, backoffMs: 20, maxBackoffMs: 200 })),
  )
  sessions.push(...(players as unknown as GameSession[]))
  const loops = players.map(async (p, i) => {
    const inflight = new Set<Promise<void>>()
    // Bounded: the test stops the loop long before this.
    for (let k = 0; !stopped && k < 50_000; k++) {
      const n = `p${i}:${k}`
      const sent: Promise<void> = p.act("add", { n }).then(
        (value) => {
          acked.push(n)
          if (value !== n) wrongValues.push({ n, value })
        },
        (error) => void failures.push(error),
      )
      const done = sent.finally(() => inflight.delete(done))
      inflight.add(done)
      if (inflight.size >= WINDOW) await Promise.race(inflight)
    }
    await Promise.all(inflight)
  })
  // The kill moments are random but replayable (the seed is printed).
  const random = rngOver(seedRng(String(seed)))
  for (let k = 0; k < kills; k++) {
    // A random moment: after 30 to 330 more acknowledged actions.
    const at = acked.length + random.int(30, 330)
    await waitUntil(() => acked.length >= at, `${at} actions acknowledged before kill ${k + 1}`, { timeoutMs: 30_000 })
    expect(await node.kill()).not.toBe(0)
    node = await start()
  }
  const last = acked.length + 30
  await waitUntil(() => acked.length >= last, "actions acknowledged after the last restart", { timeoutMs: 30_000 })
  stopped = true
  await Promise.all(loops)
  expect(failures).toEqual([])
  // Each answer is on disk with its action: a resend after the restart gets the original value.
  expect(wrongValues).toEqual([])
  const observer = await join<typeof journal>({ url: node.url, session: id, player: "observer" })
  sessions.push(observer as unknown as GameSession)
  const entries = observer.state.entries
  const seen = new Map<string, number>()
  for (const e of entries) seen.set(e, (seen.get(e) ?? 0) + 1)
  const lost = acked.filter((n) => !seen.has(n))
  const twice = [...seen].filter(([, c]) => c > 1).map(([n]) => n)
  expect({ lost: lost.length, twice: twice.length, firstLost: lost.slice(0, 5), firstTwice: twice.slice(0, 5) }).toEqual({ lost: 0, twice: 0, firstLost: [], firstTwice: [] })
  return { acked: acked.length, applied: entries.length }
}

const SEED = Number(process.env.BATON_TEST_SEED ?? Date.now() % 100_000)

describe('"replicated" durability with no live replica', () => {
  test("a lone node with a data dir, SIGKILLed at random moments under load, loses no acknowledged action", async () => {
    console.log(`seed ${SEED} (BATON_TEST_SEED to replay)`)
    const out = await killUnderLoad({}, 3, SEED)
    console.log(`lone node, 3 SIGKILLs: ${out.acked} acknowledged, ${out.applied} applied, none lost, none twice`)
  }, 90_000)

  test("a cluster node whose peers are all gone, with a data dir, SIGKILLed under load, loses no acknowledged action", async () => {
    const out = await killUnderLoad({ BATON_CLUSTER_SECRET: TEST_SECRET, BATON_HEARTBEAT_MS: "200" }, 2, SEED + 1)
    console.log(`cluster of one, 2 SIGKILLs: ${out.acked} acknowledged, ${out.applied} applied, none lost, none twice`)
  }, 90_000)

  test("a lone node without a data dir says its replicated sessions are not durable: at start, in /readyz and in /metrics", async () => {
    const node = await startNodeProcess({ app: APP })
    const warned = node.logs.find((l) => l.msg === "replicated sessions are not durable")
    expect(warned).toMatchObject({ level: "warn", games: ["journal"] })
    expect(node.eventsOf("listening")[0]).toMatchObject({ durable: false, reason: expect.stringContaining("no data dir") })
    const { id } = await createSession({ url: node.url, game: "journal" })
    const ready = await fetch(`${node.url}/readyz`)
    expect(ready.status).toBe(200)
    expect(await ready.json()).toMatchObject({ ready: true, durable: false, sessionsNotDurable: 1, reason: expect.stringContaining("no data dir") })
    const metrics = await (await fetch(`${node.url}/metrics`)).text()
    expect(metrics).toContain("baton_sessions_not_durable 1")
    expect(id).toBeString()
    await node.kill()
  }, 30_000)

  test("a node with a data dir is durable: /readyz and /metrics say so, and no warning", async () => {
    const dir = mkdtempSync(joinPath(tmpdir(), "baton-durable-"))
    dirs.push(dir)
    const node = await startNodeProcess({ app: APP, env: { BATON_DATA_DIR: dir } })
    await createSession({ url: node.url, game: "journal" })
    expect(await (await fetch(`${node.url}/readyz`)).json()).toMatchObject({ ready: true, durable: true })
    expect(await (await fetch(`${node.url}/metrics`)).text()).toContain("baton_sessions_not_durable 0")
    expect(node.logs.some((l) => l.msg === "replicated sessions are not durable")).toBe(false)
    await node.kill()
  }, 30_000)

  test("a cluster node whose replicas are all gone acknowledges nothing: actions wait, players are told why, and all land once a replica is back", async () => {
    const c = await TestCluster.start(2, { BATON_SWEEP_MS: "200" }, APP)
    const { id } = await createSession({ url: c.nodes[0]!.url, game: "journal" })
    const owns = async (n: NodeProcess) => ((await (await fetch(`${n.url}/sessions?local=1`)).json()) as { sessions: { id: string }[] }).sessions.some((x) => x.id === id)
    // Placement picked one of the two (through a relayed create when it is the other): ask until one says it runs it.
    let found: NodeProcess | undefined
    await waitUntil(async () => (found = (await owns(c.nodes[0]!)) ? c.nodes[0]! : (await owns(c.nodes[1]!)) ? c.nodes[1]! : undefined) !== undefined, "one node runs the new session")
    const owner = found as NodeProcess
    const other = owner === c.nodes[0] ? c.nodes[1]! : c.nodes[0]!
    const p = await join<typeof journal>({ url: owner.url, session: id, player: "ada" })
    sessions.push(p as unknown as GameSession)
    expect(await p.act("add", { n: "with a replica" })).toBe("with a replica")
    const readyz = async () => (await (await fetch(`${owner.url}/readyz`)).json()) as { durable: boolean; sessionsWaitingForAReplica?: number }
    expect(await readyz()).toMatchObject({ durable: true })

    await other.kill()
    await waitUntil(async () => (await readyz()).sessionsWaitingForAReplica === 1, "the owner counts the session as waiting for a replica", { timeoutMs: 20_000 })
    // One of two is no majority and no replica holds anything: nothing is acknowledged, the player is told why.
    let answered = 0
    const pending = Array.from({ length: 5 }, (_, i) => p.act("add", { n: `waiting ${i}` }).then((v) => (answered++, v)))
    await waitUntil(() => p.notice, "a notice saying why actions wait", { timeoutMs: 5_000 })
    expect(["no_quorum", "no_replica"]).toContain(p.notice!.code)
    expect(answered).toBe(0)
    expect(owner.logs.filter((l) => l.msg === "replicated sessions are not durable")).toHaveLength(0)

    // A new member: a majority and a replica again. Every waiting action lands, once, in order.
    await c.add()
    expect(await Promise.all(pending)).toEqual(["waiting 0", "waiting 1", "waiting 2", "waiting 3", "waiting 4"])
    await waitUntil(() => p.notice === null, "the notice is cleared", { timeoutMs: 5_000 })
    expect(await readyz()).toMatchObject({ durable: true })
  }, 60_000)
})
