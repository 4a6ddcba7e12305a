import { describe, expect, test } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

/**
 * Mixed versions in one cluster are what a rolling deploy is. This rolls a
 * cluster from the last commit of the previous peer protocol to this
 * checkout, players acting throughout (tests/deploy/upgrade-check.ts).
 *
 * PROTOCOL_BASELINE: the last commit before the peer protocol last changed.
 * When a change bumps PROTOCOL_VERSION (framework/cluster/protocol.ts), set
 * it to the commit before that change.
 */
const PROTOCOL_BASELINE = "3ec6a06ab19c261c6b84a565c0b3060f218b9f77" // peer protocol 1 (issue 13)
const ROOT = resolve(import.meta.dir, "../..")

async function run(cmd: string[], cwd: string): Promise<{ code: number; out: string }> {
  const p = Bun.spawn(cmd, { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, BATON_LOG: "silent" } })
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()])
  return { code: await p.exited, out: out + err }
}

describe("a rolling deploy from the previous peer protocol", () => {
  test("old nodes and new ones share a cluster; every session moves, every acknowledged action is seen", async () => {
    const has = await run(["git", "cat-file", "-e", `${PROTOCOL_BASELINE}^{commit}`], ROOT)
    if (has.code !== 0) throw new Error(`this checkout lacks commit ${PROTOCOL_BASELINE} (a shallow clone?): the upgrade check needs the history`)
    const old = mkdtempSync(join(tmpdir(), "baton-upgrade-"))
    try {
      const archive = await run(["sh", "-c", `git archive ${PROTOCOL_BASELINE} | tar -x -C ${old}`], ROOT)
      expect(archive.code).toBe(0)
      const install = await run(["bun", "install", "--frozen-lockfile"], old)
      expect(install.code).toBe(0)
      const check = await run(["bun", "tests/deploy/upgrade-check.ts", old], ROOT)
      if (check.code !== 0) console.log(check.out)
      expect(check.out).toContain("upgrade check passed")
      expect(check.code).toBe(0)
    } finally {
      rmSync(old, { recursive: true, force: true })
    }
  }, 300_000)
})
