/**
 * The client SDK's CPU, where players run it: µs per received update and per
 * `act` of `batonjs/client`, bundled the way an app ships it and run in Node
 * (V8, as the shared harness's load generator runs it), in Chromium (V8 in a
 * page; optionally with the CPU throttled as a phone's) and in Bun (for
 * reference). The replay (client-cpu-replay.ts) feeds real GameSessions a
 * counter-arena session's frames through an in-process socket; nothing goes
 * over a network.
 *
 *   bun tests/bench/client-cpu.ts [--runs 5] [--ms 300] [--sessions 10]
 *          [--only node,chromium,bun] [--throttle 4] [--sdk DIR] [--json]
 *
 * `--sdk DIR` measures the SDK of another checkout (framework/client there),
 * e.g. an older commit's (`git worktree add`), with the same replay.
 *
 * Node and Bun time CPU (process.cpuUsage: all of the process's threads, so
 * the garbage collector's too); Chromium times wall clock (performance.now,
 * coarsened by the browser: only long loops are timed with it), so a loaded
 * machine inflates its figures most.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import type { BunPlugin } from "bun"
import { chromium } from "playwright-core"
import type { ReplayCase, ReplayFigures, ReplayOptions } from "./client-cpu-replay.ts"
import { median, round } from "./stats.ts"

export type ClientRuntime = "node" | "chromium" | "bun"

export interface ClientCpuOptions extends Partial<ReplayOptions> {
  runtimes?: ClientRuntime[]
  /** A checkout whose framework/client is measured instead of this one's. */
  sdk?: string
  /** Also run Chromium with its CPU slowed this many times (Chrome's devtools throttling: 4 is a mid-range phone), 0: not. */
  throttle?: number
}

/** One runtime's medians per view size. */
export interface ClientCpuRow {
  runtime: string
  players: number
  perFrame: number
  ops: number
  frameBytes: number
  updateUs: number
  opUs: number
  actUs: number
  roundTripUs: number
  /** Chromium: the share of the replay's wall time its thread was on a CPU rather than waiting for one (Node and Bun time CPU itself). */
  ran?: number
}

/** View sizes: a table of four (one action per flush), the 1×100 arena (35 players act per 5 ms flush at ~7k actions/s), a crowd of 1,000. */
export const CASES: ReplayCase[] = [
  { players: 4, perFrame: 1 },
  { players: 100, perFrame: 35 },
  { players: 1000, perFrame: 100 },
]

const REPLAY = new URL("./client-cpu-replay.ts", import.meta.url).pathname

/** Bundles the replay with the SDK for one target, as an app's build would. */
async function bundle(dir: string, target: "node" | "browser", sdk?: string): Promise<string> {
  const entry = join(dir, `${target}-entry.ts`)
  writeFileSync(
    entry,
    target === "node"
      ? `import { replay } from ${JSON.stringify(REPLAY)}
const clock = () => { const u = process.cpuUsage(); return u.user + u.system }
console.log(JSON.stringify(await replay(JSON.parse(process.argv[2]), clock)))
`
      : `import { replay } from ${JSON.stringify(REPLAY)}
;(globalThis as any).batonReplay = (opts: any) => replay(opts, () => performance.now() * 1000)
`,
  )
  const other: BunPlugin = {
    name: "other-sdk",
    setup(build) {
      build.onResolve({ filter: /framework\/client\/index\.ts$/ }, () => ({ path: join(sdk as string, "framework/client/index.ts") }))
    },
  }
  const out = await Bun.build({ entrypoints: [entry], target, format: target === "node" ? "esm" : "iife", outdir: join(dir, target), plugins: sdk ? [other] : [] })
  if (!out.success) throw new Error(`bun build (${target}) failed: ${out.logs.join("\n")}`)
  return out.outputs[0]?.path as string
}

async function inProcess(cmd: string[], opts: ReplayOptions): Promise<ReplayFigures[]> {
  const proc = Bun.spawn([...cmd, JSON.stringify(opts)], { stdout: "pipe", stderr: "pipe" })
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  if (code !== 0) throw new Error(`${cmd[0]} exited ${code}: ${err}`)
  return JSON.parse(out.trim().split("\n").at(-1) as string)
}

/** A thread's time on a CPU and waiting for one (ns): the page's clock is wall time, this says how much of it the machine's load took. */
function schedstat(pid: number): [run: number, wait: number] | undefined {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ").map(Number)
    return [run as number, wait as number]
  } catch {
    return undefined
  }
}

async function inChromium(script: string, opts: ReplayOptions, throttle: number): Promise<{ figures: ReplayFigures[]; ran?: number }> {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] })
  try {
    const page = await browser.newPage()
    const errors: string[] = []
    page.on("pageerror", (e) => errors.push(e.message))
    if (throttle > 1) await (await page.context().newCDPSession(page)).send("Emulation.setCPUThrottlingRate", { rate: throttle })
    await page.addScriptTag({ content: await Bun.file(script).text() })
    const cdp = await browser.newBrowserCDPSession()
    const { processInfo } = (await cdp.send("SystemInfo.getProcessInfo")) as { processInfo: { type: string; id: number }[] }
    const before = new Map(processInfo.filter((p) => p.type === "renderer").map((p) => [p.id, schedstat(p.id)]))
    const figures = await page.evaluate((o) => (globalThis as any).batonReplay(o), opts as any)
    if (errors.length) throw new Error(`the page failed: ${errors.join("; ")}`)
    // The page's renderer is the one whose main thread ran the replay: the busiest.
    let ran: number | undefined
    let most = 0
    for (const [pid, b] of before) {
      const a = schedstat(pid)
      if (!a || !b || a[0] - b[0] <= most) continue
      most = a[0] - b[0]
      ran = most / (most + a[1] - b[1])
    }
    return { figures: figures as ReplayFigures[], ran }
  } finally {
    await browser.close()
  }
}

export async function measureClientCpu(options: ClientCpuOptions = {}): Promise<ClientCpuRow[]> {
  const opts: ReplayOptions = {
    cases: options.cases ?? CASES,
    sessions: options.sessions ?? 10,
    runs: options.runs ?? 5,
    runMs: options.runMs ?? 300,
    actBatch: options.actBatch ?? 100,
  }
  const runtimes = options.runtimes ?? ["node", "chromium", "bun"]
  const dir = mkdtempSync(join(tmpdir(), "baton-client-cpu-"))
  const rows: ClientCpuRow[] = []
  const add = (runtime: string, figures: ReplayFigures[], ran?: number) => {
    for (const f of figures) {
      const updateUs = median(f.updateUs)
      rows.push({
        runtime,
        players: f.players,
        perFrame: f.perFrame,
        ops: f.ops,
        frameBytes: f.frameBytes,
        updateUs: round(updateUs),
        opUs: round(updateUs / f.ops, 3),
        actUs: round(median(f.actUs)),
        roundTripUs: round(median(f.roundTripUs)),
        ...(ran === undefined ? {} : { ran: round(ran) }),
      })
    }
  }
  try {
    const node = runtimes.includes("node") || runtimes.includes("bun") ? await bundle(dir, "node", options.sdk) : ""
    const page = runtimes.includes("chromium") ? await bundle(dir, "browser", options.sdk) : ""
    const nodeVersion = runtimes.includes("node") ? await versionOf(["node", "--version"]) : ""
    // Each view size in a fresh process (a fresh browser): V8 shares hidden classes between objects
    // with the same keys, so one size's maps would shape the next one's copies.
    for (const runtime of runtimes)
      for (const c of opts.cases) {
        const one = { ...opts, cases: [c] }
        if (runtime === "node") add(`Node ${nodeVersion}`, await inProcess(["node", node], one))
        if (runtime === "bun") add(`Bun ${Bun.version}`, await inProcess([process.execPath, node], one))
        if (runtime === "chromium") {
          const plain = await inChromium(page, one, 1)
          add("Chromium", plain.figures, plain.ran)
        }
        if (runtime === "chromium" && options.throttle && options.throttle > 1) {
          const slow = await inChromium(page, one, options.throttle)
          add(`Chromium, CPU ${options.throttle}× slower`, slow.figures, slow.ran)
        }
      }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return rows
}

async function versionOf(cmd: string[]): Promise<string> {
  return (await new Response(Bun.spawn(cmd, { stdout: "pipe" }).stdout).text()).trim()
}

export function clientCpuTable(rows: ClientCpuRow[]): string {
  const lines = [
    "| runtime | players | acting per frame | ops/frame | bytes/frame | µs/update | µs/op | µs/act | µs/act+ack | on CPU |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ]
  for (const r of rows)
    lines.push(`| ${r.runtime} | ${r.players} | ${r.perFrame} | ${r.ops} | ${r.frameBytes} | ${r.updateUs} | ${r.opUs} | ${r.actUs} | ${r.roundTripUs} | ${r.ran === undefined ? "(CPU time)" : `${Math.round(r.ran * 100)} %`} |`)
  return lines.join("\n")
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "5" },
      ms: { type: "string", default: "300" },
      sessions: { type: "string", default: "10" },
      only: { type: "string" },
      throttle: { type: "string", default: "0" },
      sdk: { type: "string" },
      json: { type: "boolean", default: false },
    },
  })
  const rows = await measureClientCpu({
    runs: Number(values.runs),
    runMs: Number(values.ms),
    sessions: Number(values.sessions),
    runtimes: values.only ? (values.only.split(",") as ClientRuntime[]) : undefined,
    throttle: Number(values.throttle),
    sdk: values.sdk,
  })
  console.log(values.json ? JSON.stringify(rows) : clientCpuTable(rows))
}
