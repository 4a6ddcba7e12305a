/**
 * batonjs as people install it. The framework packed with `bun pm pack`
 * (framework/cli/pack.ts): what the tarball holds. A project scaffolded from
 * this checkout with `baton new`, which puts that tarball in the project's
 * vendor/: installed, its tests passed, then moved elsewhere and, with this
 * checkout hidden (an empty tmpfs over it in a mount namespace of its own),
 * installed afresh from its lockfile, tested and type-checked again, and
 * `bunx baton new` run from inside it. create-baton packed, installed beside
 * batonjs as `bun create baton` installs it, and run.
 */
import { describe, expect, test } from "bun:test"
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { basename, dirname, join, resolve } from "node:path"
import { FRAMEWORK_DIR } from "../../framework/cli/new.ts"
import { packedFramework } from "../../framework/cli/pack.ts"
import { batonNew, ROOT, run, scratch, TEMPLATES, VENDORED } from "../support/scaffold.ts"

const framework = JSON.parse(readFileSync(join(FRAMEWORK_DIR, "package.json"), "utf8")) as {
  version: string
  exports: Record<string, string | Record<string, string>>
  bin: Record<string, string>
}

/** Whether commands can run with this checkout hidden: root, and util-linux's unshare. */
const HIDING = process.getuid?.() === 0 && Bun.spawnSync(["unshare", "--mount", "--propagation", "private", "true"]).exitCode === 0

/** `run`, in a mount namespace where this checkout is an empty folder (as is when it cannot hide it). */
const away = (cmd: string[], opts: { cwd: string; timeoutMs?: number }) =>
  run(HIDING ? ["unshare", "--mount", "--propagation", "private", "sh", "-c", 'mount -t tmpfs tmpfs "$0" && exec "$@"', ROOT, ...cmd] : cmd, opts)

const tarList = async (tarball: string) => {
  const r = await run(["tar", "-tzf", tarball])
  expect(r.code).toBe(0)
  return r.out.split("\n").filter(Boolean).map((f) => f.replace(/^package\//, "")).sort()
}

/** Paths into this checkout held by a project: in any file's text (grep), or as a symlink's target. */
async function pathsIntoCheckout(dir: string): Promise<string[]> {
  const grep = await run(["grep", "-rlF", "--", ROOT, dir])
  expect(grep.code).toBe(grep.out ? 0 : 1)
  const found = grep.out.split("\n").filter(Boolean)
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, e.name)
      if (e.isSymbolicLink()) {
        if (resolve(dirname(path), readlinkSync(path)).startsWith(ROOT)) found.push(`${path} -> ${readlinkSync(path)}`)
      } else if (e.isDirectory()) walk(path)
    }
  }
  walk(dir)
  return found
}

type Runner = (cmd: string[], opts: { cwd: string; timeoutMs?: number }) => ReturnType<typeof run>

/** `bun test` in a project (and its type-check beside it): both must pass. */
async function passes(dir: string, how: Runner, typecheck = false) {
  const [t, tc] = await Promise.all([
    how(["bun", "test"], { cwd: dir, timeoutMs: 90_000 }),
    typecheck ? how(["bun", "run", "typecheck"], { cwd: dir, timeoutMs: 90_000 }) : Promise.resolve({ code: 0, out: "", err: "" }),
  ])
  const summary = `${t.out}\n${t.err}`
  expect(summary).toMatch(/\b0 fail\b/)
  expect(summary).toMatch(/\b[1-9]\d* pass\b/)
  expect(t.code).toBe(0)
  expect(`${tc.code}\n${tc.out}${tc.err}`).toStartWith("0\n")
}

/** Where the first test packs the framework. */
const packed = join(scratch, "packed")

describe("batonjs, packed and installed", () => {
  const project = join(scratch, "here", "my-game")
  const moved = join(scratch, "elsewhere", "renamed-game")
  let files: string[] = []

  test("the tarball holds the entries and their types, the command, the templates, a README and a LICENSE, and no tests", async () => {
    const tarball = await packedFramework(FRAMEWORK_DIR, packed)
    expect(basename(tarball)).toBe(VENDORED)
    files = await tarList(tarball)
    const has = (f: string) => expect({ file: f, packed: files.includes(f) }).toEqual({ file: f, packed: true })

    for (const [entry, target] of Object.entries(framework.exports)) {
      // Every entry needs a "types" condition (the .d.ts pack.ts emits) beside its source.
      expect({ entry, conditions: typeof target === "string" ? [] : Object.keys(target) }).toEqual({ entry, conditions: ["types", "default"] })
      for (const file of Object.values(target)) has(file.replace(/^\.\//, ""))
    }
    for (const file of Object.values(framework.bin)) has(file.replace(/^\.\//, ""))
    for (const file of ["package.json", "README.md", "LICENSE", "types/index.d.ts"]) has(file)
    for (const t of TEMPLATES) for (const file of ["index.ts", "package.json", "Dockerfile", ".dockerignore", "_gitignore", "_bunfig.toml", "k8s/deployment.yaml"]) has(`templates/${t}/${file}`)

    const license = await run(["tar", "-xzOf", tarball, "package/LICENSE"])
    expect(license.out).toStartWith("MIT License")
    // Only what a project needs: no tests of the framework, no simulator, no create-baton, nothing installed.
    expect(files.filter((f) => /^(tests|sim|create)\//.test(f) || f.includes("node_modules/") || (/\.test\.ts$/.test(f) && !f.startsWith("templates/")))).toEqual([])
  }, 120_000)

  test("baton new puts it in the project's vendor/ and depends on it by a relative path", async () => {
    const r = await batonNew([project, "--template", "lobby"])
    expect(`${r.code} ${r.err}`).toBe("0 ")
    expect(r.out).toContain(`vendor/${VENDORED}`)
    expect(JSON.parse(readFileSync(join(project, "package.json"), "utf8")).dependencies.batonjs).toBe(`file:./vendor/${VENDORED}`)
    expect(await tarList(join(project, "vendor", VENDORED))).toEqual(files)
    expect(readFileSync(join(project, "Dockerfile"), "utf8")).toContain("COPY vendor ./vendor")
  }, 130_000)

  test("it installs and its tests pass, and neither its lockfile nor node_modules holds a path into this checkout", async () => {
    const r = await run(["bun", "install"], { cwd: project, timeoutMs: 90_000 })
    expect(`${r.code} ${r.err}`).toStartWith("0")
    expect(readFileSync(join(project, "bun.lock"), "utf8")).toContain(`"batonjs@./vendor/${VENDORED}"`)
    // A copy of the tarball's files, not a link to a folder somewhere.
    expect(lstatSync(join(project, "node_modules/batonjs")).isDirectory()).toBe(true)
    expect(existsSync(join(project, "node_modules/batonjs/types/index.d.ts"))).toBe(true)
    expect(await pathsIntoCheckout(project)).toEqual([])
    await passes(project, run)
  }, 150_000)

  test(`moved elsewhere${HIDING ? ", with this checkout hidden," : ""} it installs afresh from its lockfile, and its tests and type-check pass`, async () => {
    mkdirSync(dirname(moved), { recursive: true })
    renameSync(project, moved)
    rmSync(join(moved, "node_modules"), { recursive: true, force: true })
    if (HIDING) {
      // The hiding works: this checkout's files are not there.
      const look = await away(["bun", "-e", `console.log(require("fs").existsSync(${JSON.stringify(join(ROOT, "framework/package.json"))}))`], { cwd: moved })
      expect(look.out.trim()).toBe("false")
    }
    const r = await away(["bun", "install", "--frozen-lockfile"], { cwd: moved, timeoutMs: 90_000 })
    expect(`${r.code} ${r.err}`).toStartWith("0")
    expect(await pathsIntoCheckout(moved)).toEqual([])
    await passes(moved, away, true)
  }, 150_000)

  test("bunx baton new, run from inside that project, scaffolds from the installed package", async () => {
    const second = join(scratch, "elsewhere", "second-game")
    // That project names batonjs by a path: the new one gets a tarball too (of the installed package).
    const r = await away(["bun", "x", "baton", "new", second, "--template", "realtime"], { cwd: moved, timeoutMs: 60_000 })
    expect(`${r.code} ${r.err}`).toBe("0 ")
    expect(JSON.parse(readFileSync(join(second, "package.json"), "utf8")).dependencies.batonjs).toBe(`file:./vendor/${VENDORED}`)
    expect(await tarList(join(second, "vendor", VENDORED))).toEqual(files)
    // The files a tarball cannot hold under their own names have them back.
    for (const f of ["bunfig.toml", ".gitignore", ".dockerignore", "index.ts", "tests"]) expect({ f, there: existsSync(join(second, f)) }).toEqual({ f, there: true })
    expect(existsSync(join(second, "_bunfig.toml"))).toBe(false)
  }, 70_000)
})

describe("create-baton", () => {
  const createDir = join(FRAMEWORK_DIR, "create")
  const create = JSON.parse(readFileSync(join(createDir, "package.json"), "utf8")) as { name: string; version: string; bin: Record<string, string>; dependencies: Record<string, string> }
  const sandbox = join(scratch, "create")

  test("packs to its command, package.json and README, and depends on batonjs of the same version", async () => {
    expect(create.name).toBe("create-baton")
    expect(create.version).toBe(framework.version)
    expect(create.dependencies).toEqual({ batonjs: framework.version })
    const r = await run(["bun", "pm", "pack", "--quiet", "--destination", sandbox], { cwd: createDir })
    expect(r.code).toBe(0)
    expect(await tarList(join(sandbox, `create-baton-${create.version}.tgz`))).toEqual(["README.md", "index.ts", "package.json"])
    expect(Object.values(create.bin)).toEqual(["./index.ts"])
  })

  test("installed as bun create installs it, it scaffolds a project that depends on batonjs by version", async () => {
    // `bun create baton` is `bunx create-baton`: create-baton from the registry, batonjs with it as its
    // dependency. batonjs is not published yet, so an override stands in the packed one for the registry's.
    copyFileSync(join(packed, VENDORED), join(sandbox, VENDORED))
    writeFileSync(
      join(sandbox, "package.json"),
      JSON.stringify({ private: true, dependencies: { "create-baton": `file:./create-baton-${create.version}.tgz` }, overrides: { batonjs: `file:./${VENDORED}` } }),
    )
    const install = await away(["bun", "install"], { cwd: sandbox, timeoutMs: 90_000 })
    expect(`${install.code} ${install.err}`).toStartWith("0")

    const usage = await away(["bun", "x", "create-baton"], { cwd: sandbox })
    expect(usage.code).toBe(2)
    expect(usage.out).toContain("usage: bun create baton <dir>")

    const game = join(scratch, "created-game")
    const r = await away(["bun", "x", "create-baton", game, "--template", "turn-based"], { cwd: sandbox, timeoutMs: 60_000 })
    expect(`${r.code} ${r.err}`).toBe("0 ")
    expect(r.out).toContain("from the turn-based template")
    expect(JSON.parse(readFileSync(join(game, "package.json"), "utf8")).dependencies.batonjs).toBe(framework.version)
    // No tarball, and no step in the Dockerfile for one.
    expect(existsSync(join(game, "vendor"))).toBe(false)
    expect(readFileSync(join(game, "Dockerfile"), "utf8")).not.toContain("vendor")
    for (const f of ["bunfig.toml", ".gitignore", "games/salvo.ts"]) expect({ f, there: existsSync(join(game, f)) }).toEqual({ f, there: true })
  }, 150_000)

  test("its command, run from this checkout, is baton new", async () => {
    const game = join(scratch, "created-here")
    const r = await run(["bun", join(createDir, "index.ts"), game, "--template", "lobby"], { timeoutMs: 120_000 })
    expect(`${r.code} ${r.err}`).toBe("0 ")
    expect(JSON.parse(readFileSync(join(game, "package.json"), "utf8")).dependencies.batonjs).toBe(`file:./vendor/${VENDORED}`)
  }, 130_000)
})
