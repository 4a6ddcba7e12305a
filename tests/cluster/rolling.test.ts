import { afterAll, describe, expect, test } from "bun:test"
import { resolve } from "node:path"
import { type GameSession, createSession, join } from "batonjs/client"
import { type FrontDoor, startFrontDoor } from "../../framework/cli/front-door.ts"
import type marks from "../fixtures/rolling/marks.ts"
import { type RollStep, TestCluster } from "../support/cluster.ts"
import { waitUntil } from "../support/wait.ts"

/**
 * The proof of issue 4: a 3-node cluster, sessions with bots acting
 * continuously through the SDK, two full rolling restarts (each a new code
 * version with a state migration), and one SIGKILL under "replicated"
 * durability. Nothing acknowledged may be lost or applied twice.
 * The suite runs 15 sessions with a bot acting every 100 ms, to share two
 * cores with the rest of it; BATON_ROLLING_FULL=1 runs 30, every 50 ms.
 */
const FULL = process.env.BATON_ROLLING_FULL === "1"
const SESSIONS = FULL ? 30 : 15
const PACE_MS = FULL ? 50 : 100
const app = resolve(import.meta.dir, "../fixtures/rolling")
let c: TestCluster | undefined
let door: FrontDoor | undefined
const bots: Bot[] = []

interface Bot {
  session: GameSession<typeof marks>
  acked: number[]
  lastAck: number
  longestGap: number
}

afterAll(async () => {
  {
    const { mkdirSync, writeFileSync } = await import("node:fs")
    mkdirSync("/tmp/rolling-logs", { recursive: true })
    for (const [i, node] of (c?.nodes ?? []).entries()) writeFileSync(`/tmp/rolling-logs/${i}.jsonl`, node.logs.map((l) => JSON.stringify(l)).join("\n"))
  }
  for (const n of c?.nodes ?? []) if (n.proc.exitCode !== null && n.proc.exitCode !== 0 && n.proc.signalCode !== "SIGKILL") console.log("NODE DIED", n.url, n.proc.exitCode, n.stderr().slice(-3000))
  for (const b of bots) b.session.close()
  door?.stop()
  await c?.stopAll()
})

describe("zero-loss rolling deploys", () => {
  test("two full rolls with migrations and a SIGKILL: no session lost, no ack lost, none twice, state = replay", async () => {
    const v = (n: number) => ({ BATON_TEST_GAME_VERSION: String(n), BATON_APP_VERSION: String(n) })
    c = await TestCluster.start(3, { ...v(1), BATON_GRACE_MS: "20000" }, app)
    const cluster = c
    door = startFrontDoor(0, "127.0.0.1", () => cluster.live.map((n) => n.url))
    const ids: string[] = []
    for (let i = 0; i < SESSIONS; i++) ids.push((await createSession({ url: cluster.nodes[i % 3]!.url, game: "marks" })).id)
    // One bot per session through the front door (as players behind a load balancer).
    for (const id of ids) {
      const session = await join<typeof marks>({ url: door.url, session: id, player: "bot", backoffMs: 20, maxBackoffMs: 300 })
      bots.push({ session, acked: [], lastAck: performance.now(), longestGap: 0 })
    }
    let stop = false
    let n = 0
    const loops = bots.map(async (b) => {
      while (!stop) {
        const mark = ++n
        expect(await b.session.act("mark", { n: mark })).toBe(mark)
        const now = performance.now()
        b.longestGap = Math.max(b.longestGap, now - b.lastAck)
        b.lastAck = now
        b.acked.push(mark)
        await Bun.sleep(PACE_MS)
      }
    })
    const progressed = async (k: number) => {
      const mark = bots.map((b) => b.acked.length)
      await waitUntil(() => bots.every((b, i) => b.acked.length >= (mark[i] as number) + k), `every bot acts ${k} more times`, { timeoutMs: 45_000 }).catch(async (e) => {
        for (const [i, b] of bots.entries())
          if (b.acked.length < (mark[i] as number) + k) {
            const where = await (await fetch(`${cluster.live[0]!.url}/cluster/sessions/${b.session.id}`)).json()
            console.log("STALLED", b.session.id, b.session.status, b.session.pendingCount, JSON.stringify(where))
          }
        const { mkdirSync, writeFileSync } = await import("node:fs")
        mkdirSync("/tmp/rolling-logs", { recursive: true })
        for (const [i, node] of cluster.nodes.entries()) writeFileSync(`/tmp/rolling-logs/${i}.jsonl`, node.logs.map((l) => JSON.stringify(l)).join("\n"))
        throw e
      })
    }
    await progressed(5)
    for (const b of bots) b.longestGap = 0

    const rolls: RollStep[][] = []
    rolls.push(await cluster.roll(v(2), (l) => console.log(l)))
    await progressed(3)
    rolls.push(await cluster.roll(v(3), (l) => console.log(l)))
    await progressed(3)

    // A crash under "replicated": the node owning the most sessions dies.
    const owners = await Promise.all(ids.map(async (id) => ((await (await fetch(`${cluster.live[0]!.url}/cluster/sessions/${id}`)).json()) as { entry: { owner: string } }).entry.owner))
    const liveIds = await Promise.all(cluster.live.map((node) => cluster.idOf(node)))
    const victim = liveIds.map((id, i) => ({ i, count: owners.filter((o) => o === id).length })).sort((a, b) => b.count - a.count)[0]!
    const victimSessions = ids.filter((_, i) => owners[i] === liveIds[victim.i])
    const killedAt = performance.now()
    await cluster.live[victim.i]!.kill()
    await waitUntil(() => victimSessions.every((id) => bots[ids.indexOf(id)]!.lastAck > killedAt), "every session of the killed node acts again", { timeoutMs: 20_000 }).catch(async (e) => {
      for (const id of victimSessions) {
        const b = bots[ids.indexOf(id)]!
        if (b.lastAck > killedAt) continue
        const where = await (await fetch(`${cluster.live[0]!.url}/cluster/sessions/${id}`)).json()
        console.log("STALLED AFTER KILL", id, b.session.status, b.session.pendingCount, JSON.stringify(b.session.notice), JSON.stringify(where))
      }
      throw e
    })
    const failoverMs = Math.max(...victimSessions.map((id) => bots[ids.indexOf(id)]!.lastAck - killedAt))
    await progressed(3)
    stop = true
    await Promise.all(loops)

    // Every session still exists, on the newest version, and its state is the replay of its acknowledged actions.
    for (const [i, id] of ids.entries()) {
      const bot = bots[i]!
      const info = await fetch(`${door.url}/sessions/${id}`)
      expect(info.status).toBe(200)
      await waitUntil(() => (bot.session.state.marks.bot?.length ?? 0) >= bot.acked.length, `session ${id} shows every ack`).catch(async (e) => {
        const fresh = await join<typeof marks>({ url: door!.url, session: id, player: "observer" })
        const mine = bot.session.state.marks.bot ?? []
        const truth = fresh.state.marks.bot ?? []
        console.log("MISMATCH", id, "sdk", mine.length, "server", truth.length, "acked", bot.acked.length, "status", bot.session.status)
        console.log("missing on server", bot.acked.filter((x) => !truth.includes(x)), "extra", truth.filter((x) => !bot.acked.includes(x)))
        const where = await (await fetch(`${cluster.live[0]!.url}/cluster/sessions/${id}`)).json()
        console.log(JSON.stringify(where))
        const { mkdirSync, writeFileSync } = await import("node:fs")
        mkdirSync("/tmp/rolling-logs", { recursive: true })
        for (const [i, node] of cluster.nodes.entries()) writeFileSync(`/tmp/rolling-logs/${i}.jsonl`, node.logs.map((l) => JSON.stringify(l)).join("\n"))
        throw e
      })
      expect(bot.session.state.marks.bot).toEqual(bot.acked) // none lost, none twice, in order
      expect(bot.session.state.count).toBe(bot.acked.length) // v1 → v2 migration counted the old marks
      expect(bot.session.state.byVersion).toBeDefined() // v2 → v3 ran
    }
    const moves = rolls.flat().reduce((s, r) => s + r.moved, 0) + victimSessions.length
    for (const r of rolls.flat()) {
      expect(r.exitCode).toBe(0)
      expect(r.failed).toBe(0)
    }
    const figures = {
      sessions: SESSIONS,
      actionsAcknowledged: bots.reduce((s, b) => s + b.acked.length, 0),
      sessionMoves: moves,
      movesPerSession: Math.round((moves / SESSIONS) * 100) / 100,
      drainMsPerNode: rolls.flat().map((r) => r.drainMs),
      drainPauseP99Ms: Math.max(...rolls.flat().map((r) => r.pauseP99)),
      longestPauseSeenByABotMs: Math.round(Math.max(...bots.map((b) => b.longestGap))),
      failover: { sessions: victimSessions.length, msFromSigkillToActingAgain: Math.round(failoverMs) },
    }
    console.log(`rolling-deploy figures: ${JSON.stringify(figures)}`)
    // Version-aware placement: a full roll moves each session once, not once per restarted node.
    for (const roll of rolls) expect(roll.reduce((s, r) => s + r.moved, 0)).toBe(SESSIONS)
  }, 180_000)
})
