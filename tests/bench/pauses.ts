/**
 * What players wait through a drain and a crash, with players on every node:
 * a 4-node cluster, S "replicated" tally sessions, and in each session one
 * player connected straight to each node (so most players are relayed to the
 * owner), each acting every `paceMs`. Then:
 * - a drain (SIGTERM) of the node that owns the most sessions: the answer
 *   time of every action sent during it, for players on other nodes (relayed)
 *   and, for the drained node's own players, how long until each acts again;
 * - a SIGKILL of the busiest node left: for every player on a surviving node
 *   whose session the dead node ran, the time from the kill to its next
 *   answer.
 * Every acknowledged action must be in its session's state (none lost).
 *
 *   bun tests/bench/pauses.ts [sessions=24] [paceMs=50] [--hog] [--direct]
 *
 * `--hog` runs one busy process per core throughout (a loaded machine).
 * Players stay where they connected (`direct: false`), so most are relayed;
 * `--direct` lets the SDK move each to its session's node, as it does by default.
 */
import { createSession, type GameSession, join } from "batonjs/client"
import type tally from "../fixtures/app/tally.ts"
import { cpuHog } from "../support/netns.ts"
import { TestCluster } from "../support/cluster.ts"
import { waitUntil } from "../support/wait.ts"
import { registryOwners } from "./bots.ts"
import { round } from "./stats.ts"

const APP = new URL("../fixtures/app", import.meta.url).pathname

interface Player {
  session: string
  /** The node slot it connects to. */
  slot: number
  game: GameSession<typeof tally>
  acks: { sent: number; at: number }[]
  failed: number
}

interface Summary {
  n: number
  p50: number
  p99: number
  max: number
}

export interface PausesResult {
  sessions: number
  players: number
  hog: boolean
  steadyMs: Summary
  /** handoffPauseMs: what the drained node measured, per session, from freezing it to its new owner taking it (its "drained" event). */
  drain: { ms: number; handoffPauseMs: { p50: number; p99: number }; relayed: Summary; relayedMoved: Summary; relayedStayed: Summary; ownPlayersBackMs: Summary }
  /**
   * How late this process's own timers ran (a 5 ms probe), in the steady window and during the drain:
   * the players live here, so this much of an answer time is the load generator waiting for a core, not the cluster.
   */
  loadGeneratorLagMs: { steady: Summary; drain: Summary }
  crash: { sessions: number; survivorsBackMs: Summary }
  acked: number
  lost: number
}

const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return round(s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN, 0)
}
/** The load generator's own timer-lag probe, ms. */
const LAG_PROBE_MS = 5
const summary = (xs: number[]) => ({ n: xs.length, p50: pct(xs, 0.5), p99: pct(xs, 0.99), max: xs.length ? round(Math.max(...xs), 0) : Number.NaN })

export async function measurePauses(sessions = 24, paceMs = 50, hog = false, log: (line: string) => void = () => {}, direct = false): Promise<PausesResult> {
  const load = hog ? cpuHog(600_000) : undefined
  const c = await TestCluster.start(4, {}, APP)
  const players: Player[] = []
  let stop = false
  const lags: { at: number; ms: number }[] = []
  let expected = performance.now() + LAG_PROBE_MS
  const probe = setInterval(() => {
    const now = performance.now()
    lags.push({ at: now, ms: Math.max(0, now - expected) })
    expected = now + LAG_PROBE_MS
  }, LAG_PROBE_MS)
  const lagBetween = (from: number, to: number) => lags.filter((l) => l.at >= from && l.at < to).map((l) => l.ms)
  try {
    const ids = (await Promise.all(Array.from({ length: sessions }, (_, i) => createSession({ url: c.nodes[i % 4]!.url, game: "tally" })))).map((s) => s.id)
    await waitUntil(async () => {
      const owners = await registryOwners(c.nodes[0]!.url)
      return ids.every((id) => owners.has(id))
    }, "the registry knows every session", { timeoutMs: 30_000 })
    for (const session of ids)
      for (const [slot, node] of c.nodes.entries()) {
        const game = await join<typeof tally>({ url: node.url, session, player: `p${slot}`, backoffMs: 20, maxBackoffMs: 300, direct })
        players.push({ session, slot, game, acks: [], failed: 0 })
      }
    const deadline = performance.now() + 120_000
    const loops = players.map(async (p) => {
      for (let i = 0; i < 20_000 && !stop && performance.now() < deadline; i++) {
        const sent = performance.now()
        const ok = await p.game.act("add", { n: 1 }).then(
          () => true,
          () => false,
        )
        if (ok) p.acks.push({ sent, at: performance.now() })
        else {
          p.failed++
          if (p.game.status === "closed") return
        }
        await Bun.sleep(paceMs * (0.5 + Math.random()))
      }
    })
    const ackTimes = (from: number, to: number, who: (p: Player) => boolean) => players.filter(who).flatMap((p) => p.acks.filter((a) => a.sent >= from && a.sent < to).map((a) => a.at - a.sent))
    await waitUntil(() => players.every((p) => p.acks.length >= 5), "every player acts 5 times", { timeoutMs: 60_000 })
    const steadyFrom = performance.now()
    await Bun.sleep(3_000) // the steady state: a window, by design
    const steady = ackTimes(steadyFrom, performance.now(), () => true)
    const steadyLag = lagBetween(steadyFrom, performance.now())
    log(`steady: ${JSON.stringify(summary(steady))}; load generator's timer lag ${JSON.stringify(summary(steadyLag))}`)

    const ownerOf = async () => {
      const owners = await registryOwners(c.live[0]!.url)
      const nodeIds = await Promise.all(c.nodes.map((n) => (c.live.includes(n) ? c.idOf(n) : Promise.resolve(""))))
      return (id: string) => nodeIds.indexOf(owners.get(id)?.owner ?? "?")
    }
    const busiest = (owner: (id: string) => number) => {
      const counts = c.nodes.map((n, slot) => (c.live.includes(n) ? ids.filter((id) => owner(id) === slot).length : -1))
      return counts.indexOf(Math.max(...counts))
    }

    // The drain.
    const ownerBefore = await ownerOf()
    const drained = busiest(ownerBefore)
    const drainFrom = performance.now()
    await c.nodes[drained]!.stop()
    const drainTo = performance.now()
    await Bun.sleep(1_000) // answers to actions sent late in the drain
    const drainLag = lagBetween(drainFrom, drainTo + 1_000)
    const relayed = ackTimes(drainFrom, drainTo, (p) => p.slot !== drained)
    // Split: players of the sessions the drain moved, and of those it did not (they wait only for a busy machine).
    const relayedMoved = ackTimes(drainFrom, drainTo, (p) => p.slot !== drained && ownerBefore(p.session) === drained)
    const relayedStayed = ackTimes(drainFrom, drainTo, (p) => p.slot !== drained && ownerBefore(p.session) !== drained)
    await waitUntil(() => players.filter((p) => p.slot === drained).every((p) => p.acks.some((a) => a.sent >= drainFrom)), "the drained node's players act again", { timeoutMs: 30_000 }).catch(() => {})
    const ownBackNow = players.filter((p) => p.slot === drained).map((p) => (p.acks.find((a) => a.sent >= drainFrom)?.at ?? Number.NaN) - drainFrom)
    const [ev] = c.nodes[drained]!.eventsOf("drained")
    const handoffPause = { p50: ev?.pauseP50 ?? Number.NaN, p99: ev?.pauseP99 ?? Number.NaN }
    log(`drain of slot ${drained}: ${Math.round(drainTo - drainFrom)} ms, handoff pause ${JSON.stringify(handoffPause)}; relayed ${JSON.stringify(summary(relayed))} (moved sessions ${JSON.stringify(summary(relayedMoved))}, the others ${JSON.stringify(summary(relayedStayed))}); own players back ${JSON.stringify(summary(ownBackNow))}; load generator's timer lag ${JSON.stringify(summary(drainLag))}`)

    // The crash.
    await waitUntil(async () => (await registryOwners(c.live[0]!.url)).size >= sessions, "the registry settles", { timeoutMs: 10_000 })
    await Bun.sleep(1_000) // replicas of the moved sessions settle
    const owner = await ownerOf()
    const killed = busiest(owner)
    const theirs = new Set(ids.filter((id) => owner(id) === killed))
    const killedAt = performance.now()
    await c.nodes[killed]!.kill()
    const survivors = players.filter((p) => theirs.has(p.session) && p.slot !== killed && p.slot !== drained)
    await waitUntil(() => survivors.every((p) => p.acks.some((a) => a.at > killedAt)), "every surviving player of the killed node's sessions acts again", { timeoutMs: 60_000 }).catch(() => {})
    const back = survivors.map((p) => (p.acks.find((a) => a.at > killedAt)?.at ?? Number.NaN) - killedAt)
    log(`SIGKILL of slot ${killed} (${theirs.size} sessions): survivors back ${JSON.stringify(summary(back))}`)

    stop = true
    await Promise.race([Promise.all(loops), Bun.sleep(10_000)])
    // None lost: each player's count in the state covers its acks (read through a fresh join on a live node).
    let lost = 0
    const live = c.live[0]!
    for (const id of ids) {
      const reader = await join<typeof tally>({ url: live.url, session: id, player: "reader" })
      for (const p of players.filter((x) => x.session === id)) lost += Math.max(0, p.acks.length - (reader.state.players[`p${p.slot}`] ?? 0))
      reader.close()
    }
    return {
      sessions,
      players: players.length,
      hog,
      steadyMs: summary(steady),
      drain: { ms: Math.round(drainTo - drainFrom), handoffPauseMs: handoffPause, relayed: summary(relayed), relayedMoved: summary(relayedMoved), relayedStayed: summary(relayedStayed), ownPlayersBackMs: summary(ownBackNow) },
      loadGeneratorLagMs: { steady: summary(steadyLag), drain: summary(drainLag) },
      crash: { sessions: theirs.size, survivorsBackMs: summary(back) },
      acked: players.reduce((n, p) => n + p.acks.length, 0),
      lost,
    }
  } finally {
    stop = true
    clearInterval(probe)
    for (const p of players) p.game.close()
    await c.stopAll()
    await load?.stop()
  }
}

if (import.meta.main) {
  const args = process.argv.slice(2).filter((a) => !a.startsWith("--"))
  const r = await measurePauses(Number(args[0] ?? 24), Number(args[1] ?? 50), process.argv.includes("--hog"), (l) => console.error(l), process.argv.includes("--direct"))
  console.log(JSON.stringify(r))
}
