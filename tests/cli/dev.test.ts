import { afterAll, describe, expect, test } from "bun:test"
import { resolve } from "node:path"
import { createSession, join } from "batonjs/client"
import type counter from "../../app/games/counter.ts"
import { freeRun } from "../support/node-process.ts"
import { waitUntil } from "../support/wait.ts"

const ROOT = resolve(import.meta.dir, "../..")


let proc: ReturnType<typeof Bun.spawn> | undefined
afterAll(() => proc?.kill("SIGKILL"))

describe("bun run dev", () => {
  test("starts a local cluster behind a front door, shows its status, serves a game, and stops cleanly on Ctrl-C", async () => {
    // The front door and two ranges of two nodes each: every node dials all four node ports, and a
    // stranger listening at one it did not check (another test's node, with another secret) was
    // named in a WARN on Ctrl-C in CI.
    const port = freeRun(4)
    proc = Bun.spawn(["bun", "framework/cli/main.ts", "dev", "tests/fixtures/app", "--port", String(port), "--nodes", "2"], {
      cwd: ROOT,
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, BATON_MAX_LIFETIME_MS: "60000" },
    })
    let out = ""
    const read = (async () => {
      const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return
        out += new TextDecoder().decode(value)
      }
    })()
    await waitUntil(() => out.includes(`open http://127.0.0.1:${port}`), "the front door's address is printed")
    // The playground's address comes on the next line: a chunk of output may end before it.
    await waitUntil(() => out.includes(`http://127.0.0.1:${port}/playground`), "the playground's address is printed")
    // The status line lists both nodes ready.
    await waitUntil(() => /status: n-\w+ ready \d+ \| n-\w+ ready \d+/.test(out), "a status line with two ready nodes", { timeoutMs: 15_000 })

    const url = `http://127.0.0.1:${port}`
    const { id } = await createSession({ url, game: "counter" })
    // Operators' views are open in dev: the playground describes the app's games.
    expect((await (await fetch(`${url}/playground/games`)).json()).games.map((g: { name: string }) => g.name)).toEqual(["counter", "notes", "tally"])
    const a = await join<typeof counter>({ url, session: id, player: "ada" })
    const b = await join<typeof counter>({ url, session: id, player: "bob" })
    await a.act("inc", { by: 2 })
    await b.act("inc", { by: 3 })
    await waitUntil(() => a.state.total === 5 && b.state.total === 5, "both players see 5 through the front door")
    await waitUntil(() => out.includes(`created counter session ${id}`), "the event feed shows the new session")

    // Ctrl-C with the session open and both players connected: stopping everything is not a deploy, so
    // no node hands a session to another that is stopping too, and nothing waits for one that never comes.
    const mark = out.length
    const started = performance.now()
    proc.kill("SIGINT")
    expect(await proc.exited).toBe(0)
    const ms = performance.now() - started
    await read // what it printed last, to the end
    a.close()
    b.close()
    const stopping = out.slice(mark)
    expect(stopping).toContain("stopped.")
    expect(stopping.split("\n").filter((line) => /\b(ERROR|WARN)\b|handoff|exited \([1-9]/.test(line))).toEqual([])
    console.log(`Ctrl-C stopped the dev cluster in ${Math.round(ms)} ms`)
    // A generous bound: a handoff to a stopping node used to time out and take about 10 s.
    expect(ms).toBeLessThan(9_000)
    // Every node is gone: the ports answer no more.
    for (const p of [port, port + 1, port + 2]) expect(await fetch(`http://127.0.0.1:${p}/healthz`).then(() => "up", () => "down")).toBe("down")
  })
})
