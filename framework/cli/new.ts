/**
 * `baton new <dir> [--template NAME]`: a new game project from one of the
 * templates (templates/NAME of a checkout, or the copy a packed batonjs
 * holds). The project depends on batonjs by version, or, until batonjs is on
 * the npm registry, on a tarball of this framework inside the project
 * (vendor/): either way on nothing outside its own folder.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs"
import { basename, dirname, join, relative, resolve, sep } from "node:path"
import { createInterface } from "node:readline/promises"
import { checkoutOf, packedFramework, skippedInTemplate } from "./pack.ts"

/** The framework folder (the package "batonjs"). */
export const FRAMEWORK_DIR = realpathSync(resolve(import.meta.dir, ".."))
/** The templates: beside the framework in a checkout (their one source), inside the package once packed. */
export const TEMPLATES_DIR = checkoutOf(FRAMEWORK_DIR) ? resolve(FRAMEWORK_DIR, "../templates") : join(FRAMEWORK_DIR, "templates")

/** In a template, this word stands for the project's name (k8s names, image, README). */
const NAME_TOKEN = "baton-app"
/** Files renamed on the way: a package's tarball leaves out .gitignore (npm) and bunfig.toml (bun pm pack; pack.ts, PACKED_AS). */
const RENAMES: Record<string, string> = { _gitignore: ".gitignore", "_bunfig.toml": "bunfig.toml" }
/** The Dockerfile's step that copies vendor/ in, and the comment line above it: dropped when there is no vendor/. */
const VENDOR_STEP = /^#.*\n(?=COPY vendor )|^COPY vendor .*\n/gm
/** A dependency on batonjs that the npm registry answers (a version, a range, a tag). */
const REGISTRY_SPEC = /^[\^~<>=v]*\d|^(\*|latest)$/

export interface TemplateInfo {
  name: string
  description: string
  dir: string
}

export interface NewOptions {
  /** Where the project goes (created if missing; must be empty if present). */
  dir: string | undefined
  template?: string
  templatesDir?: string
  frameworkDir?: string
  /** Asks which template when none was given; default: a numbered list on a terminal, an error otherwise. */
  choose?: (templates: TemplateInfo[]) => Promise<string | undefined>
  out?: (line: string) => void
}

/** A usage or input problem: printed as is, exit code 1 (2 for usage). */
export class NewError extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message)
  }
}

/** The templates there are: each folder of templates/ with an index.ts, described by its package.json. */
export function listTemplates(templatesDir = TEMPLATES_DIR): TemplateInfo[] {
  if (!existsSync(templatesDir)) return []
  return readdirSync(templatesDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(join(templatesDir, e.name, "index.ts")))
    .map((e) => {
      const dir = join(templatesDir, e.name)
      let description = ""
      try {
        description = String(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).description ?? "")
      } catch {
        // no package.json: the list shows the name only
      }
      return { name: e.name, description, dir }
    })
    .sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name))
}
const ORDER = ["turn-based", "realtime", "lobby"]
const rank = (name: string) => (ORDER.includes(name) ? ORDER.indexOf(name) : ORDER.length)

function templateList(templates: TemplateInfo[]): string {
  const width = Math.max(...templates.map((t) => t.name.length))
  return templates.map((t) => `  ${t.name.padEnd(width)}  ${t.description}`).join("\n")
}

/** A name Kubernetes and Docker accept (a DNS label), from the folder's name. */
export function projectName(dir: string): string {
  const slug = basename(resolve(dir))
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40)
    .replace(/-+$/, "")
  return /^[a-z]/.test(slug) ? slug : `game-${slug}`.replace(/-+$/, "")
}

/** Creates the project; returns where it went and from which template. Throws NewError. */
export async function createProject(opts: NewOptions): Promise<{ dir: string; template: TemplateInfo; name: string; batonjs: string }> {
  const templatesDir = opts.templatesDir ?? TEMPLATES_DIR
  const frameworkDir = opts.frameworkDir ?? FRAMEWORK_DIR
  const templates = listTemplates(templatesDir)
  if (templates.length === 0)
    throw new NewError(`no templates found in ${templatesDir} (a checkout of baton has them in templates/, a packed batonjs in its own templates/)`)
  if (!opts.dir) throw new NewError(`usage: baton new <dir> [--template NAME]\n\ntemplates:\n${templateList(templates)}`, 2)

  const dir = resolve(opts.dir)
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new NewError(`${dir} exists and is not a directory`)
    const entries = readdirSync(dir)
    if (entries.length > 0) {
      const shown = entries.slice(0, 5).join(", ") + (entries.length > 5 ? ", …" : "")
      throw new NewError(`${dir} is not empty (${entries.length} ${entries.length === 1 ? "entry" : "entries"}: ${shown}); baton new writes only into a new or empty directory`)
    }
  }
  for (const [what, folder] of [
    ["the framework folder", frameworkDir],
    ["the templates folder", templatesDir],
  ] as const)
    if (isInside(dir, folder)) throw new NewError(`${dir} is inside ${what} ${folder}: pick a directory outside it`)

  let wanted = opts.template
  if (wanted === undefined) {
    const choose = opts.choose ?? (process.stdin.isTTY ? askOnTerminal : undefined)
    if (!choose)
      throw new NewError(`which template? pass --template NAME (stdin is not a terminal, so baton new cannot ask). Templates:\n${templateList(templates)}`)
    wanted = await choose(templates)
    if (!wanted) throw new NewError("no template chosen")
  }
  const template = templates.find((t) => t.name === wanted)
  if (!template) throw new NewError(`unknown template "${wanted}". Templates:\n${templateList(templates)}`)

  const name = projectName(dir)
  const existed = existsSync(dir)
  mkdirSync(dir, { recursive: true })
  let batonjs: string
  try {
    batonjs = await batonjsDependency(frameworkDir, dir)
  } catch (error) {
    rmSync(existed ? join(dir, "vendor") : dir, { recursive: true, force: true })
    throw error
  }
  copyTemplate(template.dir, dir, name, true)
  if (!batonjs.startsWith("file:")) {
    const dockerfile = join(dir, "Dockerfile")
    if (existsSync(dockerfile)) writeFileSync(dockerfile, readFileSync(dockerfile, "utf8").replace(VENDOR_STEP, ""))
  }
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(projectPackage(template.dir, name, batonjs), null, 2)}\n`)
  return { dir, template, name, batonjs }
}

/**
 * Whether a new project gets a tarball of this framework rather than a
 * version from the registry: yes from a checkout (no published version is
 * its code), and from a batonjs that was itself installed from a tarball or
 * a path (a project made before batonjs was published, running `bunx baton
 * new`); no from a batonjs installed from the registry.
 */
function vendorsFramework(frameworkDir: string): boolean {
  if (checkoutOf(frameworkDir)) return true
  const at = frameworkDir.indexOf(`${sep}node_modules${sep}`)
  if (at < 0) return true
  try {
    const pkg = JSON.parse(readFileSync(join(frameworkDir.slice(0, at), "package.json"), "utf8")) as Record<string, Record<string, unknown> | undefined>
    const spec = pkg.dependencies?.batonjs ?? pkg.devDependencies?.batonjs
    // Not named by the project it is installed in: a dependency of a package from the registry (create-baton).
    return typeof spec === "string" && !REGISTRY_SPEC.test(spec)
  } catch {
    return false
  }
}

/** The project's dependency on batonjs: its version, or a packed tarball copied into the project's vendor/ and named by a relative path. */
async function batonjsDependency(frameworkDir: string, dir: string): Promise<string> {
  if (!vendorsFramework(frameworkDir)) return String(JSON.parse(readFileSync(join(frameworkDir, "package.json"), "utf8")).version)
  const tarball = await packedFramework(frameworkDir, join(dir, "vendor"))
  return `file:./vendor/${basename(tarball)}`
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child)
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith("/"))
}

/** Copies a template folder; the top-level package.json is written separately (projectPackage). */
function copyTemplate(from: string, to: string, name: string, top = false): void {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (skippedInTemplate(entry.name) || (top && entry.name === "package.json")) continue
    const src = join(from, entry.name)
    const dest = join(to, RENAMES[entry.name] ?? entry.name)
    if (entry.isDirectory()) {
      mkdirSync(dest, { recursive: true })
      copyTemplate(src, dest, name)
      continue
    }
    if (/\.(md|ya?ml)$|^Dockerfile$|^\.dockerignore$/.test(entry.name)) {
      writeFileSync(dest, readFileSync(src, "utf8").replaceAll(NAME_TOKEN, name))
    } else {
      mkdirSync(dirname(dest), { recursive: true })
      cpSync(src, dest)
    }
  }
}

/** The template's package.json, named after the project, with its dependency on batonjs. */
function projectPackage(templateDir: string, name: string, batonjs: string): Record<string, unknown> {
  const pkg = JSON.parse(readFileSync(join(templateDir, "package.json"), "utf8")) as Record<string, unknown>
  const deps = { ...((pkg.dependencies as Record<string, string> | undefined) ?? {}) }
  deps.batonjs = batonjs
  const out: Record<string, unknown> = { name, ...pkg, dependencies: deps }
  out.name = name
  return out
}

/** The numbered list on a terminal; a number or a name is an answer. */
async function askOnTerminal(templates: TemplateInfo[]): Promise<string | undefined> {
  const width = Math.max(...templates.map((t) => t.name.length))
  console.log("Which template?")
  templates.forEach((t, i) => console.log(`  ${i + 1}. ${t.name.padEnd(width)}  ${t.description}`))
  const rl = createInterface({ input: process.stdin, output: process.stdout })
  // Lines are read through the iterator, which buffers them: answers typed ahead are not lost.
  const lines = rl[Symbol.asyncIterator]()
  try {
    for (let tries = 0; tries < 3; tries++) {
      rl.setPrompt(`Template [1-${templates.length}]: `)
      rl.prompt()
      const next = await lines.next()
      if (next.done) return undefined
      const answer = String(next.value).trim()
      const byNumber = /^\d+$/.test(answer) ? templates[Number(answer) - 1] : undefined
      const picked = byNumber ?? templates.find((t) => t.name === answer)
      if (picked) return picked.name
      console.log(`"${answer}" is not one of them: type a number from 1 to ${templates.length} or a template's name`)
    }
    return undefined
  } finally {
    rl.close()
  }
}

/** `baton new`, as main.ts calls it: prints what it did or why not; returns the exit code. */
export async function runNew(opts: NewOptions): Promise<number> {
  const out = opts.out ?? console.log
  try {
    const { dir, template, name, batonjs } = await createProject(opts)
    const shown = opts.dir ?? dir
    out(`Created ${name} from the ${template.name} template in ${dir}`)
    if (batonjs.startsWith("file:"))
      out(`It depends on batonjs by ${batonjs.slice("file:./".length)}, a tarball of this framework inside the project (until batonjs is on the npm registry).`)
    out("")
    out(`  cd ${shown.includes(" ") ? JSON.stringify(shown) : shown}`)
    out("  bun install && bun run dev     # a local 3-node cluster on http://localhost:3000")
    out("  bun test                        # the game's tests")
    out("")
    out("README.md says more: the game, the tests, the Dockerfile and the Kubernetes manifests in k8s/.")
    return 0
  } catch (error) {
    if (error instanceof NewError) {
      console.error(`baton new: ${error.message}`)
      return error.code
    }
    throw error
  }
}
