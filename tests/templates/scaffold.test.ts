/**
 * `baton new`'s refusals and questions. Each template's whole path (scaffold,
 * install, its own tests, `bun run dev`) is a file of its own:
 * scaffold-turn-based, scaffold-realtime, scaffold-lobby, scaffold-react.
 */
import { describe, expect, test } from "bun:test"
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { listTemplates } from "../../framework/cli/new.ts"
import { batonNew, CLI, ROOT, run, scratch, TEMPLATES } from "../support/scaffold.ts"

describe("baton new: refusals and questions", () => {
  test("lists the templates", () => {
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
    // Packing the framework into the project may take seconds, the first time in a checkout.
    const r = await run(["script", "-qec", `bun ${CLI} new ${dir}`, "/dev/null"], { stdin: "7\n2\n", timeoutMs: 120_000 })
    expect(r.out).toContain("1. turn-based")
    expect(r.out).toContain("3. lobby")
    expect(r.out).toContain('"7" is not one of them')
    expect(r.code).toBe(0)
    expect(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).description).toContain("Pong")
  }, 130_000)
})

