/**
 * `baton new` end to end: every template scaffolded into a temporary
 * directory, installed against this checkout's framework, its own tests run
 * there, and its `bun run dev` started and stopped. Plus the refusals.
 */
import { afterAll, describe, expect, test } from "bun:test"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { listTemplates } from "../../framework/cli/new.ts"
import { freeRun } from "../support/node-process.ts"
import { waitUntil } from "../support/wait.ts"

const ROOT = resolve(import.meta.dir, "../..")
const CLI = join(ROOT, "framework/cli/main.ts")
const FRAMEWORK = realpathSync(join(ROOT, "framework"))
const TEMPLATES = ["turn-based", "realtime", "lobby"]

const scratch = mkdtempSync("/tmp/baton-scaffold-")
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
async function run(cmd: string[], opts: { cwd?: string; timeoutMs?: number; stdin?: string } = {}): Promise<Ran> {
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

const batonNew = (args: string[], opts?: { stdin?: string }) => run(["bun", CLI, "new", ...args], opts)


describe("baton new: refusals and questions", () => {
  test("lists the three templates", () => {
    expect(listTemplates().map((t) => t.name)).toEqual(TEMPLATES)
  })

  test("refuses a non-empty directory and says so, touching nothing", async () => {
    const dir = join(scratch, "occupied")
    mkdirSync(dir)
    writeFileSync(join(dir, "notes.txt"), "mine")
    const r = await batonNew([dir, "--template", "turn-based"])
    expect(r.code).toBe(1)
    expect(r.err).toContain(`${dir} is not empty`)
    expect(r.err).toContain("notes.txt")
    expect(readdirSync(dir)).toEqual(["notes.txt"])
  })

  test("without --template and without a terminal, it says how to choose and lists the templates", async () => {
    const dir = join(scratch, "undecided")
    const r = await batonNew([dir])
    expect(r.code).toBe(1)
    expect(r.err).toContain("--template")
    expect(r.err).toContain("not a terminal")
    for (const t of TEMPLATES) expect(r.err).toContain(t)
    expect(existsSync(dir)).toBe(false)
  })

  test("an unknown template is refused with the list of templates", async () => {
    const dir = join(scratch, "unknown")
    const r = await batonNew([dir, "--template", "chess"])
    expect(r.code).toBe(1)
    expect(r.err).toContain('unknown template "chess"')
    for (const t of TEMPLATES) expect(r.err).toContain(t)
    expect(existsSync(dir)).toBe(false)
  })

  test("refuses to write inside the framework or the templates", async () => {
    for (const inside of ["framework/my-game", "templates/my-game"]) {
      const r = await batonNew([join(ROOT, inside), "--template", "lobby"])
      expect(r.code).toBe(1)
      expect(r.err).toContain("pick a directory outside it")
      expect(existsSync(join(ROOT, inside))).toBe(false)
    }
  })

  test("without a directory it prints its usage", async () => {
    const r = await batonNew([])
    expect(r.code).toBe(2)
    expect(r.err).toContain("usage: baton new <dir> [--template NAME]")
  })

  test.skipIf(!Bun.which("script"))("on a terminal it asks, with a numbered list", async () => {
    const dir = join(scratch, "asked")
    // `script` gives the command a terminal; the answers are typed ahead (a wrong one first).
    const r = await run(["script", "-qec", `bun ${CLI} new ${dir}`, "/dev/null"], { stdin: "7\n2\n", timeoutMs: 15_000 })
    expect(r.out).toContain("1. turn-based")
    expect(r.out).toContain("3. lobby")
    expect(r.out).toContain('"7" is not one of them')
    expect(r.code).toBe(0)
    expect(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).description).toContain("Pong")
  })
})

for (const template of TEMPLATES) {
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
      expect(pkg.dependencies.baton).toBe(`file:${FRAMEWORK}`)
      expect(Object.keys(pkg.scripts)).toEqual(expect.arrayContaining(["dev", "start", "test", "roll"]))
      // The README opens with its own two commands.
      const head = readFileSync(join(dir, "README.md"), "utf8").split("\n").slice(0, 6).join("\n")
      expect(head).toContain("bun install && bun run dev")
      expect(head).toContain("bun test")
      expect(readFileSync(join(dir, "k8s/deployment.yaml"), "utf8")).toContain(`name: my-${template}-game`)
    })

    test("installs against this checkout's framework", async () => {
      const r = await run(["bun", "install"], { cwd: dir, timeoutMs: 90_000 })
      expect(`${r.code} ${r.err}`).toStartWith("0")
      expect(existsSync(join(dir, "bun.lock"))).toBe(true)
      // "baton" and its entries resolve inside the project, and the framework's own dependencies came with it.
      const own = join(realpathSync(dir), "node_modules")
      for (const entry of ["baton", "baton/server", "baton/client"]) expect(Bun.resolveSync(entry, dir)).toStartWith(join(own, "baton"))
      for (const dep of ["hono", "valibot", "mutative", "@automerge/automerge-repo"])
        expect(Bun.resolveSync(dep, join(own, "baton"))).toStartWith(join(own, dep))
    }, 100_000)

    test("its own tests pass there (bun test), and it type-checks", async () => {
      const t = await run(["bun", "test"], { cwd: dir, timeoutMs: 60_000 })
      const summary = `${t.out}\n${t.err}`
      expect(summary).toMatch(/\b0 fail\b/)
      expect(summary).toMatch(/\b[1-9]\d* pass\b/)
      expect(t.code).toBe(0)
      const tc = await run(["bun", "run", "typecheck"], { cwd: dir, timeoutMs: 60_000 })
      expect(`${tc.code}\n${tc.out}${tc.err}`).toStartWith("0\n")
    }, 130_000)

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
      await waitUntil(async () => (await fetch(`${url}/healthz`)).ok, "the front door answers /healthz", { timeoutMs: 20_000, everyMs: 100 })
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
    }, 40_000)
  })
}
