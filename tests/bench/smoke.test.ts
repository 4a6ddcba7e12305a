import { expect, test } from "bun:test"
import { resolve } from "node:path"

// The benchmark suite must not rot: run every benchmark once with the shortest windows
// (--smoke; numbers meaningless), and check it produced every table row. Thresholds live in
// the benchmarks, not here.
test("bun run bench --smoke runs the whole suite", async () => {
  const proc = Bun.spawn(["bun", resolve(import.meta.dir, "run.ts"), "--smoke"], { stdout: "pipe", stderr: "pipe", cwd: resolve(import.meta.dir, "../..") })
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  expect(`${code} ${err}`).toStartWith("0 ")
  for (const row of ["| 10x4 | 1 | defaults |", "| 10x4 | 3 | defaults,", "| idle sessions |", "| drain 5 sessions", "| failover 4 ", "| pauses 4 ", "| rolling 4 ", "| durable memory ", "| durable disk ", "| target (issue 17) |"]) expect(out).toContain(row)
  // Every arena row measured something, the 3-node one through two load-generator processes.
  const arena = out.split("\n").filter((l) => /^\| \d+x\d+ \|/.test(l))
  expect(arena.find((l) => l.startsWith("| 10x4 | 3 |"))).toContain("2 load-generator processes")
  for (const line of arena) expect(Number(line.split("|")[4])).toBeGreaterThan(0)
  // The handoff rows did too: the drain moved its sessions, a failover and a roll moved some.
  const cell = (prefix: string, column: number) => Number.parseFloat(out.split("\n").find((l) => l.startsWith(prefix))?.split("|")[column] ?? "")
  expect(cell("| drain 5 sessions", 2)).toBe(5)
  expect(cell("| failover 4 ", 2)).toBeGreaterThan(0)
  expect(cell("| pauses 4 ", 3)).toBeGreaterThan(0)
  expect(cell("| rolling 4 ", 8)).toBeGreaterThan(0)
  // The disk run's acks waited for journal writes.
  expect(cell("| durable disk |", 6)).toBeGreaterThan(0)
}, 240_000)
