import { readFileSync } from "node:fs"
import { dirname, extname, join, relative, sep } from "node:path"

/**
 * The app's own files by who loads them: `server`, what a node runs (the
 * entry, its games, and what they import); `pages`, what only the browser
 * loads (each HTML page the entry imports, its scripts and styles, and what
 * they import). A file both sides import is in both. Files outside the app's
 * folder and under node_modules are left out: the watcher does not see them.
 * Type-only imports are not followed: they change no code that runs.
 */
export interface AppGraph {
  server: Set<string>
  pages: Set<string>
}

const SCRIPT = /\.(m?[jt]sx?|cjs)$/
/** `<script src>` and `<link href>`, in any attribute order. */
const HTML_REFS = /<(?:script|link)\b[^>]*?\s(?:src|href)\s*=\s*["']([^"']+)["']/gi
const CSS_IMPORTS = /@import\s+(?:url\(\s*)?["']([^"']+)["']/g

export function appGraph(appDir: string, entry = "index.ts"): AppGraph {
  const graph: AppGraph = { server: new Set(), pages: new Set() }
  const inApp = (file: string) => {
    const rel = relative(appDir, file)
    return !rel.startsWith("..") && !rel.split(sep).includes("node_modules")
  }
  const visit = (file: string, side: keyof AppGraph) => {
    if (!inApp(file)) return
    // An HTML import is a page: bundled for the browser, whoever imports it.
    if (file.endsWith(".html")) side = "pages"
    if (graph[side].has(file)) return
    graph[side].add(file)
    for (const ref of refsOf(file)) visit(ref, side)
  }
  visit(join(appDir, entry), "server")
  return graph
}

/** The files a file refers to; none when it cannot be read or parsed (a syntax error: checkApp says where). */
function refsOf(file: string): string[] {
  const dir = dirname(file)
  let text: string
  try {
    text = readFileSync(file, "utf8")
  } catch {
    return []
  }
  // A page's and a stylesheet's references are URLs: "style.css" is a sibling, and "https:", "data:" or "//" are not files.
  const urls = (refs: string[]) => refs.filter((ref) => !/^[a-z][\w+.-]*:|^\/\//i.test(ref)).flatMap((ref) => resolved(ref.startsWith(".") ? ref : `./${ref}`, dir))
  if (file.endsWith(".html")) return urls([...text.matchAll(HTML_REFS)].map((m) => m[1] as string))
  if (file.endsWith(".css")) return urls([...text.matchAll(CSS_IMPORTS)].map((m) => m[1] as string))
  if (!SCRIPT.test(file)) return []
  try {
    const ext = extname(file).replace(/^\.[mc]?/, "")
    const loader = ext === "tsx" || ext === "jsx" || ext === "ts" ? ext : "js"
    return new Bun.Transpiler({ loader }).scanImports(text).flatMap((i) => resolved(i.path, dir))
  } catch {
    return []
  }
}

/** The file `ref` names from `dir`; none for a file that does not exist (yet). */
function resolved(ref: string, dir: string): string[] {
  try {
    return [Bun.resolveSync(ref, dir)]
  } catch {
    return []
  }
}
