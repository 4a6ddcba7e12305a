/**
 * The framework as the package people install (batonjs). Its tarball holds,
 * besides the sources, two things a checkout keeps elsewhere or not at all:
 * the project templates that `baton new` copies (templates/ at the top of a
 * checkout stays their one source), and .d.ts types (see `emitTypes`).
 *
 *   bun framework/cli/pack.ts [--destination DIR]   packs this checkout's framework, prints the tarball's path
 *
 * `packFramework` packs a staged copy, so that packing never writes into the
 * checkout (`baton new` packs while tests and editors read it). Packing in
 * place — `bun pm pack` or `bun publish` in framework/ — runs the same
 * preparation as package.json's prepack script, and postpack removes it.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { basename, dirname, join, relative, resolve } from "node:path"
import { parseArgs } from "node:util"

/** A template folder's files that are never copied: an install, a node's data, logs. */
export function skippedInTemplate(name: string): boolean {
  return ["node_modules", "bun.lock", "bun.lockb", ".data", ".DS_Store"].includes(name) || name.endsWith(".log")
}

/**
 * Template files `bun pm pack` leaves out wherever they are, packed under
 * another name; `baton new` gives them their own back (new.ts, RENAMES).
 */
const PACKED_AS: Record<string, string> = { "bunfig.toml": "_bunfig.toml" }

/** What `prepare` adds to a framework folder: copies, never committed (.gitignore). */
const PREPARED = ["templates", "types"]

/**
 * The checkout around a framework folder: its top-level folder, when the
 * framework is that folder's workspace with templates/ beside it. Undefined
 * for an installed package (which holds its templates and types itself).
 */
export function checkoutOf(frameworkDir: string): string | undefined {
  const top = dirname(frameworkDir)
  try {
    const pkg = JSON.parse(readFileSync(join(top, "package.json"), "utf8")) as { workspaces?: unknown }
    const own = Array.isArray(pkg.workspaces) && pkg.workspaces.includes(basename(frameworkDir))
    return own && existsSync(join(top, "templates")) ? top : undefined
  } catch {
    return undefined
  }
}

/**
 * Writes .d.ts files into `outDir` for the package's entries and every file
 * they reach, from the checkout's sources and compiler options. The tarball's
 * `exports` point TypeScript at these ("types" conditions), Bun at the .ts
 * sources: a project's tsc reads declarations (skipLibCheck applies to them),
 * where with the sources it would type-check the whole framework under the
 * project's own options (exactOptionalPropertyTypes alone reports a hundred
 * errors inside batonjs) and take seconds longer. In a checkout the types/
 * folder does not exist, and TypeScript falls back to the sources.
 */
export async function emitTypes(frameworkDir: string, checkout: string, outDir: string): Promise<void> {
  // A dev dependency of the checkout: types are only ever emitted there.
  const { default: ts } = await import("typescript")
  const fail = (d: import("typescript").Diagnostic) => new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"))
  const config = ts.getParsedCommandLineOfConfigFile(join(checkout, "tsconfig.json"), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw fail(d)
    },
  })
  if (!config) throw new Error(`${checkout}/tsconfig.json did not parse`)
  const options = { ...config.options, noEmit: false, declaration: true, emitDeclarationOnly: true, outDir, rootDir: frameworkDir, incremental: false }
  const program = ts.createProgram(entryFiles(frameworkDir), options)
  const emitted = program.emit()
  const errors = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics].filter((d) => d.category === ts.DiagnosticCategory.Error)
  if (errors.length > 0) {
    const where = (d: import("typescript").Diagnostic) => (d.file ? `${relative(checkout, d.file.fileName)}: ` : "")
    throw new Error(`the framework's types do not compile:\n${errors.map((d) => `  ${where(d)}${fail(d).message}`).join("\n")}`)
  }
}

/** The source file behind each entry of package.json's `exports`. */
function entryFiles(frameworkDir: string): string[] {
  const pkg = JSON.parse(readFileSync(join(frameworkDir, "package.json"), "utf8")) as { exports: Record<string, string | { default: string }> }
  return Object.values(pkg.exports).map((target) => join(frameworkDir, typeof target === "string" ? target : target.default))
}

/** Copies the checkout's templates into a framework folder and emits its types there: what a tarball holds beyond the sources. */
export async function prepare(pkgDir: string, checkout: string, sourceDir = pkgDir): Promise<void> {
  unprepare(pkgDir)
  copyTemplates(join(checkout, "templates"), join(pkgDir, "templates"))
  await emitTypes(sourceDir, checkout, join(pkgDir, "types"))
}

function copyTemplates(from: string, to: string): void {
  mkdirSync(to, { recursive: true })
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (skippedInTemplate(entry.name)) continue
    const dest = join(to, PACKED_AS[entry.name] ?? entry.name)
    if (entry.isDirectory()) copyTemplates(join(from, entry.name), dest)
    else cpSync(join(from, entry.name), dest)
  }
}

/** Removes what `prepare` wrote. */
export function unprepare(pkgDir: string): void {
  for (const name of PREPARED) rmSync(join(pkgDir, name), { recursive: true, force: true })
}

/**
 * Packs a framework folder with `bun pm pack` into `destination` and returns
 * the tarball's path. From a checkout, a staged copy gets the templates and
 * types first; an installed package already holds them and is packed again
 * as it is.
 */
export async function packFramework(frameworkDir: string, destination: string): Promise<string> {
  const checkout = checkoutOf(frameworkDir)
  const missing = checkout ? [] : PREPARED.filter((name) => !existsSync(join(frameworkDir, name)))
  if (missing.length > 0) throw new Error(`${frameworkDir} is neither a checkout's framework nor a packed batonjs (no ${missing.join(", ")})`)
  const staging = mkdtempSync(join(tmpdir(), "batonjs-pack-"))
  try {
    const pkgDir = join(staging, "batonjs")
    cpSync(frameworkDir, pkgDir, { recursive: true, filter: (src) => basename(src) !== "node_modules" })
    if (checkout) await prepare(pkgDir, checkout, frameworkDir)
    mkdirSync(destination, { recursive: true })
    // Scripts off: the staged copy is prepared already (prepack is for packing in place).
    const proc = Bun.spawn([process.execPath, "pm", "pack", "--ignore-scripts", "--quiet", "--destination", resolve(destination)], {
      cwd: pkgDir,
      stdout: "pipe",
      stderr: "pipe",
    })
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
    const tarball = resolve(destination, basename(out.trim()))
    if (code !== 0 || !existsSync(tarball)) throw new Error(`bun pm pack failed (exit ${code}): ${err.trim() || out.trim()}`)
    return tarball
  } finally {
    rmSync(staging, { recursive: true, force: true })
  }
}

/**
 * A tarball of the framework in `destination` (its path): packed there, or
 * in a checkout copied from node_modules/.cache/batonjs/, where the tarball
 * of the same sources, templates, lockfile and Bun is packed once (emitting
 * the types takes seconds) and reused by every `baton new` after.
 */
export async function packedFramework(frameworkDir: string, destination: string): Promise<string> {
  const checkout = checkoutOf(frameworkDir)
  if (!checkout) return packFramework(frameworkDir, destination)
  const cache = join(checkout, "node_modules/.cache/batonjs")
  const slot = join(cache, contentHash(frameworkDir, checkout))
  let name = existsSync(slot) ? readdirSync(slot).find((f) => f.endsWith(".tgz")) : undefined
  if (!name) {
    mkdirSync(cache, { recursive: true })
    const fresh = mkdtempSync(join(cache, "packing-"))
    name = basename(await packFramework(frameworkDir, fresh))
    try {
      renameSync(fresh, slot)
    } catch {
      // Another `baton new` packed the same content meanwhile: theirs is as good.
      rmSync(fresh, { recursive: true, force: true })
    }
    // Tarballs of sources edited since: gone after an hour (a `baton new` still copying one has long finished).
    for (const old of readdirSync(cache, { withFileTypes: true }))
      if (old.name !== basename(slot) && Date.now() - statSync(join(cache, old.name)).mtimeMs > 3_600_000) rmSync(join(cache, old.name), { recursive: true, force: true })
  }
  mkdirSync(destination, { recursive: true })
  cpSync(join(slot, name), join(destination, name))
  return join(destination, name)
}

/** A digest of what goes into the tarball: the framework's and the templates' files, the lockfile, tsconfig and Bun's version. */
function contentHash(frameworkDir: string, checkout: string): string {
  const hash = new Bun.CryptoHasher("sha256").update(Bun.version)
  const add = (dir: string, skip: (name: string) => boolean) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (skip(entry.name)) continue
      const path = join(dir, entry.name)
      if (entry.isDirectory()) add(path, skip)
      else if (entry.isFile()) hash.update(`\0${relative(checkout, path)}\0`).update(readFileSync(path))
    }
  }
  add(frameworkDir, (name) => name === "node_modules" || PREPARED.includes(name))
  add(join(checkout, "templates"), skippedInTemplate)
  for (const file of ["bun.lock", "tsconfig.json"]) if (existsSync(join(checkout, file))) hash.update(readFileSync(join(checkout, file)))
  return hash.digest("hex").slice(0, 16)
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { destination: { type: "string" }, prepare: { type: "boolean" }, clean: { type: "boolean" } } })
  const frameworkDir = resolve(import.meta.dir, "..")
  const checkout = checkoutOf(frameworkDir)
  if (values.prepare || values.clean) {
    // prepack / postpack of an in-place pack. An installed package is packed as it is.
    if (checkout && values.prepare) await prepare(frameworkDir, checkout)
    else if (checkout) unprepare(frameworkDir)
  } else {
    console.log(await packedFramework(frameworkDir, values.destination ?? process.cwd()))
  }
}
