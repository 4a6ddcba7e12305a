import { describe, expect, test } from "bun:test"
import { join } from "node:path"
import { runSeed } from "../../framework/sim/run.ts"
import type { World } from "../../framework/sim/world.ts"

/**
 * The cluster simulator (framework/sim) run as `bun run sim` would: whole
 * clusters of real nodes in one process, faults drawn from each seed, the
 * invariants checked at the end. In a subprocess, since a run replaces the
 * process's clock, timers and random sources.
 */
const MAIN = join(import.meta.dir, "../../framework/sim/main.ts")

async function sim(args: string[]): Promise<{ code: number; out: string }> {
  const p = Bun.spawn(["bun", MAIN, ...args], { stdout: "pipe", stderr: "pipe" })
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()])
  return { code: await p.exited, out: out + err }
}

const summary = (out: string) => /seed \S+: .* trace ([0-9a-f]{16})/.exec(out)?.[1]

describe("the simulator", () => {
  test("a seed replays exactly: in a fresh process and after other seeds in one process, the same documents, trace and answers", async () => {
    // A run must leave nothing behind that the next one draws from (uuid's pool of random bytes did:
    // automerge document ids were the one thing a seed did not decide, and now and then they changed a trace).
    const docs: string[][] = []
    const onEnd = (w: World) => void docs.push(w.procs.flatMap((p) => (p.node ? p.node.store.entries().map(([id, e]) => `${p.label} ${id} ${e.doc}`) : [])))
    const opts = { activeMs: 4_000, nodes: 3 }
    const fresh = sim(["--seed", "7", "--active", "4000", "--nodes", "3"])
    const a = await runSeed({ seed: "7", ...opts, onEnd })
    const other = await runSeed({ seed: "8", ...opts })
    const b = await runSeed({ seed: "7", ...opts, onEnd })
    expect(docs[0]?.length).toBeGreaterThan(0)
    expect(docs[1]).toEqual(docs[0] as string[])
    expect(b.hash).toBe(a.hash)
    expect(other.hash).not.toBe(a.hash)
    // `bun run sim --seed 7` in its own process: the same trace as here.
    expect(summary((await fresh).out)).toBe(a.hash)
  }, 120_000)

  // Seeds that found bugs, kept as regression cases (the plan a seed draws changes with the code, so
  // each bug also has a scripted case where it could be written as one).
  // 5, 15: a replica dropped its copy when a new member moved the replica set while the owner's power-off
  //        was not detected yet; the takeover started from an older copy and lost acknowledged actions.
  // 11:    a control link reset mid-relay lost an action frame; the relay went on and the action was never answered.
  // 2:     a player on a node that lost power waited forever (the SDK had no liveness check).
  // 7034 (slow-disk,crash,power-off): a second power-off hit a session's only replica before the first
  //        one's failover could run, losing acknowledged actions (two copies cannot survive that): the
  //        simulator now injects a fault only once the cluster recovered from the last.
  // 7043 (slow-disk,crash,power-off): the quiet end started 2 s after a power-off, before its players
  //        could notice (the SDK's liveness timeout): it now starts no sooner than 12.5 s after one.
  // 3002, 1035 (--active 8000): an action frame lost in a cut relay (or dropped), the next one applied
  //        first, and the lost one's resend answered as a repeat: acknowledged, never applied. Found by
  //        the "answer" invariant (the ack carried no value); act frames now name the action before (p).
  // 17, 3232: the "waits" invariant (a crashed owner's sessions act again within 1.5 s). 17: a relay
  //        pointed at a node that had said it took the session over, after its link was gone, and never
  //        followed on; 3232: a node restarted at a dead one's address was never called down on a
  //        refused redial (the dial failure was pinned on the old id).
  // 9127 (default faults): a rebalancing handoff whose answer was lost in a cut. The target had taken the
  //        session and the registry had fenced the source, which still handed it to the next node: two
  //        owners for 11 ms (the "one-owner" invariant). A source fenced meanwhile now stops there.
  // 9244 (default faults): three nodes powered off and restarted (new ids, same addresses) one after another,
  //        faster than dead members are dropped from the majority: six voters, three alive, no majority
  //        ever again, every action of a session unanswered. A member replaced at its address no longer votes.
  // 60096 (default faults): a one-way cut left a survivor's redial of its peer stuck behind a lost SYN; when
  //        that peer crashed, the survivor's new redial was skipped as already in flight, so it never heard
  //        the address refuse and held its vote back: the crash was taken over 1.9 s late. A link's close
  //        now starts a fresh dial past one begun before it.
  // 70029 (default faults): a one-way cut made a survivor back off its takeover of the cut node's session
  //        (up to 2 s between tries); the cut healed, and when that node crashed 1.9 s later the survivor
  //        waited out the old backoff: 1.7 s. The backoff ends when the owner is seen up again.
  // Each list of faults as it was when the seeds were found (the default list has grown since: "flap").
  const FOUND_WITH = "crash,power-off,pause,partition,one-way,latency,resets,deploy,join,slow-disk"
  test.each([
    ["2,5,11,15,17,3232", FOUND_WITH, "20000"],
    ["7034,7043", "slow-disk,crash,power-off", "20000"],
    ["1035,3002", FOUND_WITH, "8000"],
    ["9127", "", "20000"],
    ["9244", "", "20000"],
    ["60096", "", "20000"],
    ["70029", "", "20000"],
  ])("regression seeds %s %s (active %s ms) hold every invariant", async (seeds, faults, active) => {
    const r = await sim(["--seed", seeds, "--active", active, "--workers", "2", ...(faults ? ["--faults", faults] : [])])
    const n = seeds.split(",").length
    expect(r.out).toContain(n === 1 ? `seed ${seeds}: ok` : `${n} seeds (${seeds.split(",").join(", ")}): ${n} passed, 0 failed`)
    expect(r.code).toBe(0)
  }, 120_000)

  // 8 s of play is the shortest that always draws a fault (the first comes 3-6 s into the play and
  // must start 2 s before its end); a seed costs about half a second of CPU (docs/simulator.md, "Speed").
  test("a batch of seeds with every fault holds every invariant", async () => {
    const r = await sim(["--seeds", process.env.BATON_SIM_SEEDS ?? "40", "--from", "1000", "--active", "8000", "--workers", "2"])
    expect(r.out).toMatch(/\d+ seeds \(.*\): \d+ passed, 0 failed/)
    expect(r.code).toBe(0)
  }, 300_000)
})
