/**
 * Paced players for the handoff benchmarks (failover.ts, rolling.ts): each
 * bot acts through the client SDK, waits for the ack, thinks, and goes
 * again, so the cluster is loaded but not starved. Every ack is kept with
 * its send time; the final state is checked against the acks.
 */
import { createSession, type GameSession, join } from "batonjs/client"
import type { TestCluster } from "../support/cluster.ts"
import { waitUntil } from "../support/wait.ts"

/** The two counter games: "counter" ("local" durability) and the fixture app's "tally" (the counter with "replicated" durability). */
export const GAMES = {
  counter: {
    act: (s: GameSession) => s.act("inc", { by: 1 } as never),
    count: (state: unknown, p: string) => (state as { players?: Record<string, { count: number }> }).players?.[p]?.count ?? 0,
  },
  tally: {
    act: (s: GameSession) => s.act("add", { n: 1 } as never),
    count: (state: unknown, p: string) => (state as { players?: Record<string, number> }).players?.[p] ?? 0,
  },
}
export type GameName = keyof typeof GAMES

export interface Ack {
  sent: number
  at: number
}

export interface Bot {
  session: GameSession
  acks: Ack[]
  /** Actions that failed: they may or may not have been applied. */
  errors: number
  busy: boolean
}

export interface Bots {
  bots: Bot[]
  /** Waits until every bot has `k` more acks than now. */
  progressed(k: number, timeoutMs?: number): Promise<void>
  /** Stops the loops and checks each session's state against its bot's acks. */
  stopAndVerify(): Promise<{ acked: number; lost: number; duplicated: number; inDoubt: number }>
  close(): void
}

/** Creates `n` sessions (in parallel, spread over the nodes) and waits until the registry knows every one. */
export async function createSessions(c: TestCluster, n: number, game: GameName): Promise<string[]> {
  const ids = (await Promise.all(Array.from({ length: n }, (_, i) => createSession({ url: c.nodes[i % c.nodes.length]!.url, game })))).map((s) => s.id)
  await waitUntil(async () => {
    const owners = await registryOwners(c.live[0]!.url)
    return ids.every((id) => owners.has(id))
  }, "the registry knows every session")
  return ids
}

/** session id -> { owner, epoch }, as one node's registry has it. */
export async function registryOwners(url: string): Promise<Map<string, { owner: string; epoch: number }>> {
  const { sessions } = (await (await fetch(`${url}/cluster/registry`)).json()) as { sessions: { id: string; owner: string; epoch: number }[] }
  return new Map(sessions.map((s) => [s.id, { owner: s.owner, epoch: s.epoch }]))
}

/**
 * One bot per session, joined through `url` (a front door: players behind a
 * load balancer), acting until stopped or `maxMs` (the loops are bounded in
 * time and count whatever happens). `thinkMs` is the pause after each ack.
 */
export async function startBots(url: string, ids: string[], game: GameName, thinkMs: (ack: Ack) => number, maxMs = 90_000): Promise<Bots> {
  const g = GAMES[game]
  const sessions = await Promise.all(ids.map((session) => join({ url, session, player: "bot", backoffMs: 20, maxBackoffMs: 200 })))
  const bots: Bot[] = sessions.map((session) => ({ session, acks: [], errors: 0, busy: false }))
  let stop = false
  const deadline = performance.now() + maxMs
  const loops = bots.map(async (b) => {
    for (let i = 0; i < 100_000 && !stop && performance.now() < deadline; i++) {
      const sent = performance.now()
      b.busy = true
      const ok = await g.act(b.session).then(
        () => true,
        () => false,
      )
      b.busy = false
      if (!ok) {
        b.errors++
        if (b.session.status === "closed") return
        await Bun.sleep(20) // a failing session must not spin
        continue
      }
      const ack = { sent, at: performance.now() }
      b.acks.push(ack)
      await Bun.sleep(thinkMs(ack))
    }
  })
  let done = false
  void Promise.all(loops).then(() => (done = true))
  return {
    bots,
    async progressed(k, timeoutMs = 30_000) {
      const mark = bots.map((b) => b.acks.length)
      await waitUntil(() => bots.every((b, i) => b.acks.length >= mark[i]! + k), `every bot acts ${k} more times`, { timeoutMs })
    },
    async stopAndVerify() {
      stop = true
      // A bot whose action never comes back is counted in doubt, not waited for forever.
      await waitUntil(() => done, "every bot loop ends", { timeoutMs: 10_000 }).catch(() => {})
      const inDoubt = bots.reduce((s, b) => s + b.errors + (b.busy ? 1 : 0), 0)
      // The SDK's view is the server's state (deltas, a fresh view on every join): wait until it shows every ack.
      await waitUntil(() => bots.every((b) => g.count(b.session.state, "bot") >= b.acks.length), "every ack shows in the state", { timeoutMs: 5_000 }).catch(() => {})
      let lost = 0
      let duplicated = 0
      for (const b of bots) {
        const count = g.count(b.session.state, "bot")
        lost += Math.max(0, b.acks.length - count)
        duplicated += Math.max(0, count - b.acks.length - b.errors - (b.busy ? 1 : 0))
      }
      return { acked: bots.reduce((s, b) => s + b.acks.length, 0), lost, duplicated, inDoubt }
    },
    close() {
      stop = true
      for (const b of bots) b.session.close()
    },
  }
}
