/**
 * `baton new <dir> [--template NAME]`: a new game project from one of the
 * templates beside this framework (templates/NAME of the checkout). The
 * project depends on this framework by a local `file:` path until baton is
 * on the npm registry.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs"
import { basename, dirname, join, relative, resolve } from "node:path"
import { createInterface } from "node:readline/promises"

/** The framework folder (the package "batonjs") and the templates folder beside it in a checkout. */
export const FRAMEWORK_DIR = realpathSync(resolve(import.meta.dir, ".."))
export const TEMPLATES_DIR = resolve(FRAMEWORK_DIR, "../templates")

/** In a template, this word stands for the project's name (k8s names, image, README). */
const NAME_TOKEN = "baton-app"
/** Files renamed on the way (npm drops a package's .gitignore when it is published). */
const RENAMES: Record<string, string> = { _gitignore: ".gitignore" }
/** Never copied from a template folder. */
const SKIP = new Set(["node_modules", "bun.lock", "bun.lockb", ".data", ".DS_Store"])

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
export async function createProject(opts: NewOptions): Promise<{ dir: string; template: TemplateInfo; name: string }> {
  const templatesDir = opts.templatesDir ?? TEMPLATES_DIR
  const frameworkDir = opts.frameworkDir ?? FRAMEWORK_DIR
  const templates = listTemplates(templatesDir)
  if (templates.length === 0)
    throw new NewError(`no templates found in ${templatesDir} (baton new runs from a checkout of baton: bun run baton new <dir>)`)
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
  mkdirSync(dir, { recursive: true })
  copyTemplate(template.dir, dir, name, true)
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(projectPackage(template.dir, name, frameworkDir), null, 2)}\n`)
  return { dir, template, name }
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child)
  return rel === "" || (!rel.startsWith("..") && !rel.startsWith("/"))
}

/** Copies a template folder; the top-level package.json is written separately (projectPackage). */
function copyTemplate(from: string, to: string, name: string, top = false): void {
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (SKIP.has(entry.name) || entry.name.endsWith(".log") || (top && entry.name === "package.json")) continue
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

/** The template's package.json, named after the project and depending on this framework by its path. */
function projectPackage(templateDir: string, name: string, frameworkDir: string): Record<string, unknown> {
  const pkg = JSON.parse(readFileSync(join(templateDir, "package.json"), "utf8")) as Record<string, unknown>
  const deps = { ...((pkg.dependencies as Record<string, string> | undefined) ?? {}) }
  // Until baton is published: the framework folder of this checkout. Its own dependencies
  // (hono, automerge, valibot, mutative) come with it.
  deps.batonjs = `file:${frameworkDir}`
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
    const { dir, template, name } = await createProject(opts)
    const shown = opts.dir ?? dir
    out(`Created ${name} from the ${template.name} template in ${dir}`)
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
