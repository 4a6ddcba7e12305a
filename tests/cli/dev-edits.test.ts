/**
 * `bun run dev` on a copy of a small app (tests/fixtures/dev-app), edited as
 * a developer would: a page edit reloads the page in a real browser and
 * rolls nothing; a syntax error and a type error in a game are shown with
 * file:line:column and the lines around them, and hold the roll until the
 * fix is saved. What rolled is read from GET /cluster (the nodes' ids and
 * versions), never from the log.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { type Browser, chromium } from "playwright-core"
import { devRows, type MemberRow } from "../../framework/cli/dev-table.ts"
import { freeRun } from "../support/node-process.ts"
import { waitUntil } from "../support/wait.ts"

const ROOT = resolve(import.meta.dir, "../..")
const CHROMIUM = "/usr/bin/chromium"
const NODES = 2

const dir = mkdtempSync(join(tmpdir(), "baton-dev-edits-"))
let proc: ReturnType<typeof Bun.spawn> | undefined
let browser: Browser | undefined
let out = ""
let url = ""

afterAll(async () => {
  await browser?.close()
  proc?.kill("SIGINT")
  await proc?.exited
  rmSync(dir, { recursive: true, force: true })
})

/** The members GET /cluster lists, through the front door. */
async function members(): Promise<MemberRow[]> {
  const res = await fetch(`${url}/cluster`)
  return ((await res.json()) as { members: MemberRow[] }).members
}

/**
 * The nodes that serve, as `id@version`, once every one of them sees the same (right after a roll,
 * one may not have heard yet that another left); undefined until then.
 */
async function serving(): Promise<string[] | undefined> {
  const view = (list: MemberRow[]) => list.filter((m) => m.up).map((m) => `${m.id}@${m.version}`).sort().join(" ")
  const all = await members()
  const seen = view(all)
  const views = await Promise.all(all.filter((m) => m.up).map(async (m) => view(((await (await fetch(`${m.url}/cluster`)).json()) as { members: MemberRow[] }).members)))
  return views.every((v) => v === seen) ? seen.split(" ") : undefined
}

/** Every serving node runs `version`, and there are NODES of them. */
async function allOn(version: string): Promise<string[] | undefined> {
  const rows = await serving()
  return rows?.length === NODES && rows.every((r) => r.endsWith(`@${version}`)) ? rows : undefined
}

/** The serving nodes, once they agree. */
const settled = () => waitUntil(serving, "the serving nodes agree on who serves")

/** Saves `file` once with each `from` replaced by the `to` after it. */
function edit(file: string, ...pairs: string[]): void {
  const path = join(dir, file)
  let text = readFileSync(path, "utf8")
  for (let i = 0; i < pairs.length; i += 2) {
    const [from, to] = [pairs[i] as string, pairs[i + 1] as string]
    if (!text.includes(from)) throw new Error(`${file} has no "${from}"`)
    text = text.replace(from, to)
  }
  writeFileSync(path, text)
}

/** Output printed after `mark` (the length of the output when the step began). */
const since = (mark: number) => out.slice(mark)

beforeAll(async () => {
  cpSync(resolve(ROOT, "tests/fixtures/dev-app"), dir, { recursive: true })
  // The copy resolves batonjs and typescript as a project of its own would: from its node_modules.
  symlinkSync(resolve(ROOT, "node_modules"), join(dir, "node_modules"))
  const port = freeRun(2 * NODES)
  url = `http://127.0.0.1:${port}`
  proc = Bun.spawn(["bun", "framework/cli/main.ts", "dev", dir, "--port", String(port), "--nodes", String(NODES)], {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, BATON_MAX_LIFETIME_MS: "240000" },
  })
  for (const stream of [proc.stdout, proc.stderr] as ReadableStream<Uint8Array>[])
    void (async () => {
      const reader = stream.getReader()
      const decoder = new TextDecoder()
      for (let r = await reader.read(); !r.done; r = await reader.read()) out += decoder.decode(r.value, { stream: true })
    })()
  await waitUntil(() => allOn("dev-1"), "both nodes ready on dev-1", { timeoutMs: 30_000 })
}, 60_000)

describe("bun run dev, editing the app", () => {
  test("a page edit reloads the page in the browser and rolls nothing", async () => {
    const before = await settled()
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] })
    const page = await browser.newPage()
    const errors: string[] = []
    page.on("pageerror", (e) => errors.push(e.message))
    await page.goto(url)
    await page.waitForFunction(() => document.getElementById("status")?.textContent === "Hello from the first draft")
    expect(await page.textContent("#title")).toBe("Tally, first draft")

    // Tests and docs are nobody's code: saving them does nothing at all.
    mkdirSync(join(dir, "tests"))
    mkdirSync(join(dir, "docs"))
    writeFileSync(join(dir, "tests/tally.test.ts"), 'import tally from "../games/tally.ts"\n')
    writeFileSync(join(dir, "docs/notes.md"), "# Notes\n")

    // The page's markup, then a module its script imports: the browser shows each without the test navigating.
    edit("pages/page.html", "Tally, first draft", "Tally, second draft")
    await page.waitForFunction(() => document.getElementById("title")?.textContent === "Tally, second draft", undefined, { timeout: 20_000 })
    edit("pages/words.ts", "Hello from the first draft", "Hello from the second draft")
    const shown = () => page.waitForFunction(() => document.getElementById("status")?.textContent === "Hello from the second draft", undefined, { timeout: 20_000 })
    await shown().catch(async () => {
      // Once, in a fresh-clone CI run beside the heaviest suites, this save never reached the browser
      // (Bun's watcher may drop a save made while it still rebuilds after the one before). Saved again,
      // it must show; the log line says it happened.
      console.warn("dev-edits: the save of pages/words.ts did not reach the browser in 20 s; saving it again")
      writeFileSync(join(dir, "pages/words.ts"), readFileSync(join(dir, "pages/words.ts"), "utf8"))
      await shown()
    })
    expect(errors).toEqual([])

    // The edit was seen and judged (the line comes after the decision a roll would have started from): the same nodes serve.
    await waitUntil(() => out.includes("pages/words.ts; the page reloads in the browser"), "the dev loop says the page reloads")
    expect(await settled()).toEqual(before)
    expect(out).not.toContain("tests/tally.test.ts")
    expect(out).not.toContain("docs/notes.md")
  }, 60_000)

  test("a syntax error in a game is shown with file:line:column and its lines, and the roll waits for the fix", async () => {
    const before = await settled()
    const mark = out.length
    edit("games/tally.ts", "state.total += input.n", "state.total += input.n)")
    // Up to the frame's last line (the output arrives in pieces).
    await waitUntil(() => /not rolling: 1 syntax error[^]*\| +\^\n.*14 \|/.test(since(mark)), "the syntax error is reported", { timeoutMs: 20_000 })
    const shown = since(mark)
    expect(shown).toMatch(/games\/tally\.ts:13:\d+ /)
    // The frame: lines before, the line marked, a caret under the spot.
    expect(shown).toContain("   12 |       apply({ state, input }) {")
    expect(shown).toContain(" > 13 |         state.total += input.n)")
    expect(shown).toMatch(/\| +\^/)
    expect(await settled()).toEqual(before)

    edit("games/tally.ts", "state.total += input.n)", "state.total += input.n")
    const rolled = await waitUntil(() => allOn("dev-2"), "the fix rolls the cluster onto dev-2", { timeoutMs: 60_000 })
    expect(rolled.some((r) => before.includes(r))).toBe(false)
  }, 90_000)

  test("a type error in a game is shown the same way and holds the roll; the fix rolls", async () => {
    const before = await settled()
    const mark = out.length
    edit("games/tally.ts", "state.total += input.n", 'state.total += "one"')
    await waitUntil(() => /not rolling: 1 type error[^]*\| +\^\n.*14 \|/.test(since(mark)), "the type error is reported", { timeoutMs: 30_000 })
    const shown = since(mark)
    expect(shown).toMatch(/games\/tally\.ts:13:9 Type 'string' is not assignable to type 'number'/)
    expect(shown).toContain(' > 13 |         state.total += "one"')
    expect(shown).toMatch(/ {3}\| {9}\^/)
    expect(await settled()).toEqual(before)

    edit("games/tally.ts", 'state.total += "one"', "state.total += input.n")
    await waitUntil(() => allOn("dev-3"), "the fix rolls the cluster onto dev-3", { timeoutMs: 60_000 })
    // Two rolls so far: the page edits and the broken saves rolled nothing.
    expect(since(mark)).toMatch(/changed: games\/tally\.ts; checked in \d+\.\d s; rolling/)
  }, 90_000)

  test("a page added to the entry: the cluster rolls (the entry is code the nodes run) and the front door serves the new page", async () => {
    writeFileSync(join(dir, "pages/about.html"), '<!doctype html>\n<html lang="en"><head><meta charset="utf-8" /><title>About</title></head><body><h1>About tally</h1></body></html>\n')
    expect((await fetch(`${url}/about`)).status).not.toBe(200)
    edit("index.ts", 'import page from "./pages/page.html"', 'import about from "./pages/about.html"\nimport page from "./pages/page.html"', 'pages: { "/": page }', 'pages: { "/": page, "/about": about }')
    await waitUntil(() => allOn("dev-4"), "the entry's edit rolls the cluster onto dev-4", { timeoutMs: 60_000 })
    const res = await fetch(`${url}/about`)
    expect(res.status).toBe(200)
    expect(await res.text()).toContain("About tally")
  }, 90_000)

  test("the dev table forgets the nodes the rolls replaced", async () => {
    const all = await members()
    // GET /cluster still lists the replaced nodes (gone), the table does not.
    expect(all.length).toBeGreaterThan(NODES)
    const rows = devRows(all)
    expect(rows.map((r) => r.version)).toEqual(["dev-4", "dev-4"])
    const ids = rows.map((r) => r.id)
    await waitUntil(() => new RegExp(`status: ${ids[0]} ready \\d+ \\| ${ids[1]} ready \\d+\\n`).test(out.slice(out.lastIndexOf("status: "))), "the last status line lists the new nodes only")
  })
})
