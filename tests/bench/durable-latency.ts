/**
 * What the disk costs "replicated" durability on a node with no live
 * replica: the round trip of one action (act → ack) on a lone node without
 * a data dir (acks at once, not durable), with one (the ack waits for the
 * group commit that wrote it), and with BATON_FSYNC=1 (that commit also
 * fsyncs). Each player keeps one action in flight, so the figure is the
 * latency a player sees; actions per write shows the group commit at work.
 *
 *   bun tests/bench/durable-latency.ts [seconds=10] [sessions=20] [players=2]
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join as joinPath } from "node:path"
import { createSession, type GameSession, join } from "batonjs/client"
import type tally from "../fixtures/app/tally.ts"
import { startNodeProcess } from "../support/node-process.ts"
import { percentiles } from "./stats.ts"

export interface DurableLatency {
  config: string
  actionsPerSecond: number
  latencyMs: { p50: number; p95: number; p99: number }
  writes: number
  actionsPerWrite: number | null
}

export async function measureDurableLatency(opts: { config: "memory" | "disk" | "disk+fsync"; seconds: number; warmupMs?: number; sessions: number; players: number }): Promise<DurableLatency> {
  const dir = opts.config === "memory" ? undefined : mkdtempSync(joinPath(tmpdir(), "baton-bench-durable-"))
  const env: Record<string, string> = { BATON_FRAMES_PER_SECOND: "1000000" }
  if (dir) env.BATON_DATA_DIR = dir
  if (opts.config === "disk+fsync") env.BATON_FSYNC = "1"
  const node = await startNodeProcess({ env, lifetimeMs: (opts.seconds + 60) * 1000 })
  const players: GameSession<typeof tally>[] = []
  try {
    for (let s = 0; s < opts.sessions; s++) {
      const { id } = await createSession({ url: node.url, game: "tally" })
      for (let p = 0; p < opts.players; p++) players.push(await join<typeof tally>({ url: node.url, session: id, player: `p${p}` }))
    }
    // Warm up (the first writes create each document's files), then measure.
    const run = async (ms: number, into?: number[]) => {
      const until = performance.now() + ms
      await Promise.all(
        players.map(async (p) => {
          while (performance.now() < until) {
            const t0 = performance.now()
            await p.act("add", { n: 1 })
            into?.push(performance.now() - t0)
          }
        }),
      )
    }
    await run(opts.warmupMs ?? 1_000)
    const writesBefore = await writes(node.url)
    const samples: number[] = []
    await run(opts.seconds * 1000, samples)
    const written = (await writes(node.url)) - writesBefore
    const { p50, p95, p99 } = percentiles(samples)
    return {
      config: opts.config,
      actionsPerSecond: Math.round(samples.length / opts.seconds),
      latencyMs: { p50, p95, p99 },
      writes: written,
      actionsPerWrite: written ? Math.round((samples.length / written) * 10) / 10 : null,
    }
  } finally {
    for (const p of players) p.close()
    await node.stop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  }
}

async function writes(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  return Number(/^baton_durable_writes_total (\d+)/m.exec(text)?.[1] ?? 0)
}

if (import.meta.main) {
  const seconds = Number(process.argv[2] ?? 10)
  const sessions = Number(process.argv[3] ?? 20)
  const players = Number(process.argv[4] ?? 2)
  console.log(`"replicated" on a lone node, ${sessions} sessions x ${players} players, one action in flight each, ${seconds} s\n`)
  console.log("| data dir | actions/s | p50 ms | p95 ms | p99 ms | disk writes | actions per write |")
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
  for (const config of ["memory", "disk", "disk+fsync"] as const) {
    const r = await measureDurableLatency({ config, seconds, sessions, players })
    console.log(`| ${config} | ${r.actionsPerSecond} | ${r.latencyMs.p50} | ${r.latencyMs.p95} | ${r.latencyMs.p99} | ${r.writes} | ${r.actionsPerWrite ?? "-"} |`)
  }
}
