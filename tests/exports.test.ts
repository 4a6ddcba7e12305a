import { describe, expect, test } from "bun:test"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join, relative, resolve } from "node:path"
import ts from "typescript"

/**
 * The public surface of the framework package's entries (framework/package.json
 * "exports"), held against a committed snapshot so that a change to what they
 * export is deliberate: the runtime exports with their kind, and every
 * exported symbol (types too) with its signature as the compiler prints it.
 * Comments are not part of a signature, so documenting never changes it.
 *
 *   BATON_UPDATE_EXPORTS=1 bun test tests/exports.test.ts   rewrites the snapshot
 */
const ROOT = resolve(import.meta.dir, "..")
const FRAMEWORK = join(ROOT, "framework")
const SNAPSHOT = join(import.meta.dir, "exports.snapshot.json")
const UPDATE = process.env.BATON_UPDATE_EXPORTS === "1"

/** Entries whose file package.json names but which does not exist. Write the file or drop the entry, then the name from here. */
const MISSING_ENTRIES = new Set<string>([])

/**
 * Exported symbols (and members) with no TSDoc, defined in files this change
 * may not edit (others are working on them): what is left to document, by
 * file. An entry that gets documented must leave the list (the test says so).
 */
const UNDOCUMENTED: Record<string, string[]> = {}

/** Files where an undocumented export may be allowed (edited elsewhere); anywhere else, document it. */
const ALLOWED_FILES = [/^framework\/node\/node\.ts$/, /^framework\/cluster\//, /^framework\/sim\//]

// ---------------------------------------------------------------------------

/** Code-unit order: the same on every machine, whatever its locale. */
const byCode = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

const pkg = JSON.parse(readFileSync(join(FRAMEWORK, "package.json"), "utf8")) as { name: string; exports: Record<string, string | { default: string }> }

/** "batonjs/server" → "framework/server/index.ts", from package.json's exports map (the source, not the packed .d.ts). */
const ENTRIES: [name: string, file: string][] = Object.entries(pkg.exports)
  .map(([key, target]): [string, string] => [
    key === "." ? pkg.name : `${pkg.name}/${key.replace(/^\.\//, "")}`,
    join(FRAMEWORK, typeof target === "string" ? target : target.default),
  ])
  .sort(([a], [b]) => byCode(a, b))
const PRESENT = ENTRIES.filter(([name]) => !MISSING_ENTRIES.has(name))

type Kind = "function" | "class" | "object" | "constant"
type Surface = { runtime: Record<string, Kind>; types: Record<string, string> }

function runtimeKind(value: unknown): Kind {
  if (typeof value === "function") return /^class\b/.test(Function.prototype.toString.call(value)) ? "class" : "function"
  return typeof value === "object" && value !== null ? "object" : "constant"
}

/** One program for every entry: creating it is most of this file's time. */
let cached: { program: ts.Program; checker: ts.TypeChecker } | undefined
function compiler() {
  if (cached) return cached
  const fail = (d: ts.Diagnostic) => {
    throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"))
  }
  const config = ts.getParsedCommandLineOfConfigFile(join(ROOT, "tsconfig.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: fail })
  if (!config) throw new Error("tsconfig.json did not parse")
  const program = ts.createProgram(PRESENT.map(([, file]) => file), config.options)
  cached = { program, checker: program.getTypeChecker() }
  return cached
}

const printer = ts.createPrinter({ removeComments: true, newLine: ts.NewLineKind.LineFeed })
const TYPE_FLAGS = ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseAliasDefinedOutsideCurrentScope

/** Comment-free source text of a node, on one line, with no absolute paths. */
function printed(node: ts.Node): string {
  return clean(printer.printNode(ts.EmitHint.Unspecified, node, node.getSourceFile())).trim()
}

function clean(text: string): string {
  return text
    .replace(/import\("([^"]+)"\)/g, (_, path: string) => `import("${path.startsWith("/") ? relative(ROOT, path) : path}")`)
    .replace(/\s*\n\s*/g, " ")
    .replace(/;$/, "")
}

function typeText(checker: ts.TypeChecker, type: ts.Type): string {
  return clean(checker.typeToString(type, undefined, TYPE_FLAGS))
}

function signatureText(checker: ts.TypeChecker, sig: ts.Signature): string {
  return clean(checker.signatureToString(sig, undefined, TYPE_FLAGS))
}

function typeParams(params: ts.NodeArray<ts.TypeParameterDeclaration> | undefined): string {
  return params ? `<${params.map(printed).join(", ")}>` : ""
}

function heritage(clauses: ts.NodeArray<ts.HeritageClause> | undefined): string {
  return clauses ? clauses.map((c) => ` ${printed(c)}`).join("") : ""
}

const flagsOf = (decl: ts.Declaration) => ts.getCombinedModifierFlags(decl)

/** A member is public surface unless `private` or `#private`. */
function isPublic(decl: ts.Declaration): boolean {
  const name = ts.getNameOfDeclaration(decl)
  if (name && ts.isPrivateIdentifier(name)) return false
  return !(flagsOf(decl) & ts.ModifierFlags.Private)
}

/** A member's name; a symbol-keyed one (`[Symbol.iterator]`) by its source, not the checker's numbered internal name. */
function memberName(member: ts.Symbol): string {
  const name = member.declarations?.[0] && ts.getNameOfDeclaration(member.declarations[0])
  return member.name.startsWith("__@") && name ? printed(name) : member.name
}

/** The declared members of a class (instance and static) or an interface, public ones only, by name. */
function membersOf(symbol: ts.Symbol): [name: string, member: ts.Symbol][] {
  const out: [string, ts.Symbol][] = []
  const add = (table: ts.SymbolTable | undefined, statics: boolean) =>
    table?.forEach((member, key) => {
      const name = key === "__constructor" ? "constructor" : key === "__index" ? "[index]" : key === "__call" ? "(call)" : key === "__new" ? "(new)" : memberName(member)
      if (key === "prototype" || member.flags & ts.SymbolFlags.TypeParameter || !member.declarations?.length || !member.declarations.every(isPublic)) return
      out.push([statics && name !== "constructor" ? `static ${name}` : name, member])
    })
  add(symbol.members, false)
  if (symbol.flags & ts.SymbolFlags.Class) add(symbol.exports, true)
  return out.sort(([a], [b]) => byCode(a, b))
}

function memberText(checker: ts.TypeChecker, member: ts.Symbol): string {
  const decls = member.declarations ?? []
  const first = decls[0] as ts.Declaration
  const flags = flagsOf(first)
  const prefix = `${flags & ts.ModifierFlags.Static ? "static " : ""}${flags & ts.ModifierFlags.Protected ? "protected " : ""}`
  if (ts.isConstructorDeclaration(first) || ts.isMethodDeclaration(first) || ts.isMethodSignature(first)) {
    const name = ts.isConstructorDeclaration(first) ? "constructor" : memberName(member) + (member.flags & ts.SymbolFlags.Optional ? "?" : "")
    // With overloads, the implementation's signature is not part of the surface.
    const sigs = decls.filter((d) => decls.length === 1 || !(d as ts.FunctionLikeDeclaration).body)
    return sigs.map((d) => prefix + name + signatureText(checker, checker.getSignatureFromDeclaration(d as ts.SignatureDeclaration) as ts.Signature)).join("; ")
  }
  if (ts.isGetAccessorDeclaration(first) || ts.isSetAccessorDeclaration(first)) {
    const get = decls.find(ts.isGetAccessorDeclaration)
    const set = decls.find(ts.isSetAccessorDeclaration)
    const type = get?.type ? printed(get.type) : typeText(checker, checker.getTypeOfSymbol(member))
    return `${prefix}${get ? "get " : ""}${set ? "set " : ""}${memberName(member)}: ${type}`
  }
  if (ts.isPropertyDeclaration(first) || ts.isPropertySignature(first) || ts.isParameter(first)) {
    const readonly = flags & ts.ModifierFlags.Readonly ? "readonly " : ""
    const optional = member.flags & ts.SymbolFlags.Optional ? "?" : ""
    const type = first.type ? printed(first.type) : typeText(checker, checker.getTypeOfSymbol(member))
    return `${prefix}${readonly}${memberName(member)}${optional}: ${type}`
  }
  return decls.map(printed).join("; ")
}

/** The exported symbol's own line: what it is and its signature. */
function symbolText(checker: ts.TypeChecker, exported: ts.Symbol, target: ts.Symbol): string {
  const decl = target.declarations?.[0]
  if (!decl) return "unknown"
  if (ts.isSourceFile(decl) || ts.isModuleDeclaration(decl)) {
    const from = exported.declarations?.find(ts.isNamespaceExport)?.parent.moduleSpecifier
    return `namespace ${exported.name}${from ? ` = module ${printed(from)}` : ""}`
  }
  if (ts.isFunctionDeclaration(decl))
    return checker
      .getTypeOfSymbol(target)
      .getCallSignatures()
      .map((sig) => `function ${target.name}${signatureText(checker, sig)}`)
      .join("; ")
  if (ts.isClassDeclaration(decl)) {
    const abstract = flagsOf(decl) & ts.ModifierFlags.Abstract ? "abstract " : ""
    return `${abstract}class ${target.name}${typeParams(decl.typeParameters)}${heritage(decl.heritageClauses)}`
  }
  if (ts.isInterfaceDeclaration(decl)) return `interface ${target.name}${typeParams(decl.typeParameters)}${heritage(decl.heritageClauses)}`
  if (ts.isTypeAliasDeclaration(decl)) return `type ${target.name}${typeParams(decl.typeParameters)} = ${printed(decl.type)}`
  if (ts.isVariableDeclaration(decl)) {
    const keyword = decl.parent.flags & ts.NodeFlags.Const ? "const" : "let"
    return `${keyword} ${target.name}: ${decl.type ? printed(decl.type) : typeText(checker, checker.getTypeOfSymbol(target))}`
  }
  if (ts.isEnumDeclaration(decl)) return `enum ${target.name} { ${decl.members.map(printed).join(", ")} }`
  return printed(decl)
}

/** Whether an export reaches its symbol through an `export type` / `import type` anywhere along the way. */
function typeOnly(checker: ts.TypeChecker, alias: ts.Symbol): boolean {
  for (let s: ts.Symbol | undefined = alias; s && s.flags & ts.SymbolFlags.Alias; s = checker.getImmediateAliasedSymbol(s))
    for (const d of s.declarations ?? [])
      if ((ts.isExportSpecifier(d) || ts.isImportSpecifier(d)) && (d.isTypeOnly || d.parent.parent.isTypeOnly)) return true
      else if (ts.isImportClause(d) && d.isTypeOnly) return true
  return false
}

type Item = { key: string; symbol: ts.Symbol; alias: ts.Symbol; file: string }

/** Every exported symbol of an entry and the public members of its classes and interfaces. */
function itemsOf(entryFile: string): Item[] {
  const { program, checker } = compiler()
  const source = program.getSourceFile(entryFile)
  if (!source) throw new Error(`${relative(ROOT, entryFile)} is not in the program`)
  const module = checker.getSymbolAtLocation(source)
  if (!module) throw new Error(`${relative(ROOT, entryFile)} is not a module`)
  const items: Item[] = []
  for (const exported of checker.getExportsOfModule(module)) {
    const target = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported
    const file = relative(ROOT, target.declarations?.[0]?.getSourceFile().fileName ?? "?")
    items.push({ key: exported.name, symbol: target, alias: exported, file })
    if (target.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface))
      for (const [name, member] of membersOf(target)) items.push({ key: `${exported.name}.${name}`, symbol: member, alias: member, file })
  }
  return items.sort((a, b) => byCode(a.key, b.key))
}

function typeSurface(entryFile: string): Record<string, string> {
  const { checker } = compiler()
  const out: Record<string, string> = {}
  for (const item of itemsOf(entryFile))
    out[item.key] = item.key.includes(".") ? memberText(checker, item.symbol) : symbolText(checker, item.alias, item.symbol)
  return out
}

async function surfaceOf(name: string, file: string): Promise<Surface> {
  const mod = (await import(name)) as Record<string, unknown>
  const runtime: Record<string, Kind> = {}
  for (const key of Object.keys(mod).sort(byCode)) runtime[key] = runtimeKind(mod[key])
  return { runtime, types: typeSurface(file) }
}

/** `entry runtime|types name: value` lines, the unit the failure message reports. */
function lines(snapshot: Record<string, Surface>): Map<string, string> {
  const out = new Map<string, string>()
  for (const [entry, surface] of Object.entries(snapshot))
    for (const part of ["runtime", "types"] as const)
      for (const [key, value] of Object.entries(surface[part] ?? {})) out.set(`${entry} ${part} ${key}`, value)
  return out
}

function diff(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: [string, string][] = []
  for (const [key, value] of after) {
    const old = before.get(key)
    if (old === undefined) out.push([key, `+ ${key}: ${value}`])
    else if (old !== value) out.push([key, `~ ${key}:\n    was: ${old}\n    now: ${value}`])
  }
  for (const [key, value] of before) if (!after.has(key)) out.push([key, `- ${key}: ${value}`])
  return out.sort(([a], [b]) => byCode(a, b)).map(([, line]) => line)
}

/** Whether a game developer's editor shows a description for it (its own TSDoc, or one it inherits). */
function documented(checker: ts.TypeChecker, item: Item): boolean {
  const text = (parts: ts.SymbolDisplayPart[]) => parts.some((p) => p.text.trim() !== "")
  if (text(item.symbol.getDocumentationComment(checker))) return true
  // A re-exported module (`export * as v from "valibot"`) is described where it is re-exported.
  return (item.alias.declarations ?? []).some(
    (d) => ts.isNamespaceExport(d) && ts.getJSDocCommentsAndTags(d.parent).some((doc) => ts.isJSDoc(doc) && !!ts.getTextOfJSDocComment(doc.comment)?.trim()),
  )
}

/** Undocumented exports and members of every entry, by the file that defines them. */
function undocumented(): Record<string, string[]> {
  const { checker } = compiler()
  const seen = new Set<ts.Symbol>()
  const out: Record<string, string[]> = {}
  for (const [, file] of PRESENT)
    for (const item of itemsOf(file)) {
      if (seen.has(item.symbol)) continue
      seen.add(item.symbol)
      if (!documented(checker, item)) (out[item.file] ??= []).push(item.key)
    }
  for (const keys of Object.values(out)) keys.sort(byCode)
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => byCode(a, b)))
}

describe("the package's public surface", () => {
  test("every entry in package.json exists, but those listed as missing", () => {
    const absent = ENTRIES.filter(([, file]) => !existsSync(file)).map(([name]) => name)
    expect(absent).toEqual([...MISSING_ENTRIES].sort(byCode))
  })

  test("matches tests/exports.snapshot.json (BATON_UPDATE_EXPORTS=1 to accept a change)", async () => {
    const current: Record<string, Surface> = {}
    for (const [name, file] of PRESENT) current[name] = await surfaceOf(name, file)

    // What runs and what the types say is a value must agree.
    const { checker } = compiler()
    for (const [name, file] of PRESENT) {
      const values = itemsOf(file)
        .filter((i) => !i.key.includes(".") && i.symbol.flags & ts.SymbolFlags.Value && !typeOnly(checker, i.alias))
        .map((i) => i.key)
      expect({ entry: name, values: Object.keys(current[name]?.runtime ?? {}) }).toEqual({ entry: name, values })
    }

    const text = `${JSON.stringify(current, null, 2)}\n`
    if (text.includes(ROOT)) throw new Error("the snapshot would hold an absolute path")
    if (UPDATE) {
      writeFileSync(SNAPSHOT, text)
      return
    }
    if (!existsSync(SNAPSHOT))
      throw new Error(`no ${relative(ROOT, SNAPSHOT)}: write it with\n  BATON_UPDATE_EXPORTS=1 bun test tests/exports.test.ts`)
    const committed = JSON.parse(readFileSync(SNAPSHOT, "utf8")) as Record<string, Surface>
    const changes = diff(lines(committed), lines(current))
    if (changes.length > 0)
      throw new Error(
        `the public surface changed (${changes.length} lines; + added, - removed, ~ changed):\n${changes.join("\n")}\n\n` +
          `If the change is meant, accept it and commit the snapshot with it:\n  BATON_UPDATE_EXPORTS=1 bun test tests/exports.test.ts`,
      )
  }, 60_000)

  test("every export of every entry, and every public member, has TSDoc (but the listed ones)", () => {
    const missing = undocumented()
    const allowed = Object.fromEntries(Object.entries(missing).filter(([file]) => ALLOWED_FILES.some((re) => re.test(file))))
    const elsewhere = Object.entries(missing)
      .filter(([file]) => !(file in allowed))
      .flatMap(([file, keys]) => keys.map((key) => `${file}: ${key}`))
    // Document these (a short /** */ above each: what it is for, defaults, parameters that are not obvious).
    expect(elsewhere).toEqual([])
    // The list of what is left where this change could not edit: remove what has been documented since.
    expect(allowed).toEqual(UNDOCUMENTED)
    for (const file of Object.keys(UNDOCUMENTED)) expect({ file, allowed: ALLOWED_FILES.some((re) => re.test(file)) }).toEqual({ file, allowed: true })
  })
})
