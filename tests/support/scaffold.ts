/**
 * `baton new` end to end, shared by tests/templates/scaffold*.test.ts (one
 * file per template, so the test runner can run them side by side): a
 * template scaffolded into a temporary directory, installed from the
 * tarball of this checkout's framework that `baton new` puts in its vendor/,
 * its own tests run there, its `bun run dev` started and stopped.
 */
import { afterAll, describe, expect, test } from "bun:test"
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs"
import { join, resolve } from "node:path"
import { freeRun } from "./node-process.ts"
import { waitUntil } from "./wait.ts"

export const ROOT = resolve(import.meta.dir, "../..")
export const CLI = join(ROOT, "framework/cli/main.ts")
/** The tarball `baton new` vendors into a project made from this checkout. */
export const VENDORED = `batonjs-${JSON.parse(readFileSync(join(ROOT, "framework/package.json"), "utf8")).version}.tgz`
export const TEMPLATES = ["turn-based", "realtime", "lobby", "react"]

export const scratch = mkdtempSync("/tmp/baton-scaffold-")
const running = new Set<ReturnType<typeof Bun.spawn>>()
afterAll(() => {
  for (const p of running) p.kill("SIGKILL")
  rmSync(scratch, { recursive: true, force: true })
})

interface Ran {
  code: number
  out: string
  err: string
}

/** Runs a command to its end (killed after `timeoutMs`), with its output. */
export async function run(cmd: string[], opts: { cwd?: string; timeoutMs?: number; stdin?: string } = {}): Promise<Ran> {
  const proc = Bun.spawn(cmd, {
    cwd: opts.cwd ?? ROOT,
    stdin: opts.stdin === undefined ? "ignore" : new Blob([opts.stdin]),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0", BATON_MAX_LIFETIME_MS: "60000" },
  })
  running.add(proc)
  const timer = setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs ?? 30_000)
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  clearTimeout(timer)
  running.delete(proc)
  return { code, out, err }
}



/** `baton new`; the first in a checkout packs the framework (seconds: it emits the types), the rest reuse that tarball. */
export const batonNew = (args: string[], opts?: { stdin?: string }) => run(["bun", CLI, "new", ...args], { timeoutMs: 120_000, ...opts })

/** Every step of one template, as a describe block. */
/**
 * `typecheck`: also run the scaffolded project's own type-check. One template
 * does: how a project resolves the installed package's types is the same for
 * every template, and every template's sources are type-checked in place by
 * tests/types/typecheck.test.ts (the root tsconfig includes templates/).
 */
export function describeTemplate(template: string, opts: { typecheck: boolean }): void {
  describe(`baton new --template ${template}`, () => {
    const dir = join(scratch, `my-${template}-game`)

    test("scaffolds a project of its own", async () => {
      const r = await batonNew([dir, "--template", template])
      expect(r.err).toBe("")
      expect(r.code).toBe(0)
      expect(r.out).toContain(`from the ${template} template`)
      for (const f of ["package.json", "README.md", "index.ts", "Dockerfile", ".dockerignore", ".gitignore", "tsconfig.json", "k8s/deployment.yaml", "k8s/services.yaml"])
        expect(existsSync(join(dir, f))).toBe(true)
      for (const d of ["games", "pages", "tests"]) expect(readdirSync(join(dir, d)).length).toBeGreaterThan(0)

      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))
      expect(pkg.name).toBe(`my-${template}-game`)
      expect(pkg.dependencies.batonjs).toBe(`file:./vendor/${VENDORED}`)
      expect(existsSync(join(dir, "vendor", VENDORED))).toBe(true)
      expect(Object.keys(pkg.scripts)).toEqual(expect.arrayContaining(["dev", "start", "test", "roll"]))
      // The README opens with its own two commands.
      const head = readFileSync(join(dir, "README.md"), "utf8").split("\n").slice(0, 6).join("\n")
      expect(head).toContain("bun install && bun run dev")
      expect(head).toContain("bun test")
      expect(readFileSync(join(dir, "k8s/deployment.yaml"), "utf8")).toContain(`name: my-${template}-game`)
    }, 130_000)

    test("installs batonjs from the vendored tarball", async () => {
      const r = await run(["bun", "install"], { cwd: dir, timeoutMs: 90_000 })
      expect(`${r.code} ${r.err}`).toStartWith("0")
      expect(existsSync(join(dir, "bun.lock"))).toBe(true)
      // "batonjs" and its entries resolve inside the project, and the framework's own dependencies came with it.
      const own = join(realpathSync(dir), "node_modules")
      for (const entry of ["batonjs", "batonjs/server", "batonjs/client"]) expect(Bun.resolveSync(entry, dir)).toStartWith(join(own, "batonjs"))
      for (const dep of ["hono", "valibot", "mutative", "@automerge/automerge-repo"])
        expect(Bun.resolveSync(dep, join(own, "batonjs"))).toStartWith(join(own, dep))
    }, 100_000)

    test(`its own tests pass there (bun test)${opts.typecheck ? ", and it type-checks" : ""}`, async () => {
      // Side by side: the tests mostly wait on the node they start, the type-check mostly computes.
      const typecheck = opts.typecheck ? run(["bun", "run", "typecheck"], { cwd: dir, timeoutMs: 90_000 }) : Promise.resolve({ code: 0, out: "", err: "" })
      const [t, tc] = await Promise.all([run(["bun", "test"], { cwd: dir, timeoutMs: 90_000 }), typecheck])
      const summary = `${t.out}\n${t.err}`
      expect(summary).toMatch(/\b0 fail\b/)
      expect(summary).toMatch(/\b[1-9]\d* pass\b/)
      expect(t.code).toBe(0)
      expect(`${tc.code}\n${tc.out}${tc.err}`).toStartWith("0\n")
    }, 100_000)

    test("bun run dev serves it, and Ctrl-C stops it cleanly", async () => {
      const port = freeRun(3)
      const proc = Bun.spawn(["bun", "run", "dev", "--port", String(port), "--nodes", "1"], {
        cwd: dir,
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
        env: { ...process.env, BATON_MAX_LIFETIME_MS: "60000" },
      })
      running.add(proc)
      let out = ""
      for (const stream of [proc.stdout, proc.stderr]) {
        void (async () => {
          const reader = stream.getReader()
          for (let r = await reader.read(); !r.done; r = await reader.read()) out += new TextDecoder().decode(r.value)
        })()
      }
      const url = `http://127.0.0.1:${port}`
      await waitUntil(async () => (await fetch(`${url}/healthz`)).ok, "the front door answers /healthz", { timeoutMs: 45_000, everyMs: 100 })
      const page = await fetch(`${url}/`)
      expect(page.status).toBe(200)
      expect(await page.text()).toContain("<!doctype html>")
      const games = (await (await fetch(`${url}/games`)).json()) as { games: { name: string }[] }
      expect(games.games.length).toBeGreaterThan(0)

      proc.kill("SIGINT")
      expect(await proc.exited).toBe(0)
      running.delete(proc)
      expect(out).toContain("stopped.")
      for (const p of [port, port + 1]) expect(await fetch(`http://127.0.0.1:${p}/healthz`).then(() => "up", () => "down")).toBe("down")
    }, 70_000)
  })
}
