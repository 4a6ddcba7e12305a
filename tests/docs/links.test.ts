import { expect, test } from "bun:test"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"

/**
 * The README and docs/ link only inside the repository: every relative link
 * resolves to a file that exists (and, with a #fragment, to a heading in it),
 * none climbs out of the repository, and none points to the web.
 */
const ROOT = resolve(import.meta.dir, "../..")

function markdownFiles(): string[] {
  const docs = readdirSync(join(ROOT, "docs"), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".md"))
    .map((f) => join(ROOT, "docs", f))
  return [join(ROOT, "README.md"), ...docs]
}

/** The text outside fenced code blocks and inline code: examples may show any URL. */
function prose(text: string): string {
  return text.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, "").replace(/`[^`\n]*`/g, "")
}

/** Heading anchors as the usual Markdown renderers make them. */
function anchors(text: string): Set<string> {
  const out = new Set<string>()
  for (const line of prose(text).split("\n")) {
    const m = /^#{1,6}\s+(.*)$/.exec(line)
    if (m) out.add((m[1] as string).trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-"))
  }
  return out
}

function links(text: string): string[] {
  return [...prose(text).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1] as string)
}

test("every link in the README and docs/ stays in the repository and resolves", () => {
  const problems: string[] = []
  const files = markdownFiles()
  expect(files.length).toBeGreaterThan(5)
  let checked = 0
  for (const file of files) {
    const text = readFileSync(file, "utf8")
    const where = relative(ROOT, file)
    if (text.includes("../shared")) problems.push(`${where}: names ../shared, outside the repository`)
    for (const target of links(text)) {
      checked++
      if (/^[a-z][a-z0-9+.-]*:|^\/\//i.test(target)) {
        problems.push(`${where}: ${target} leaves the repository`)
        continue
      }
      const [path, fragment] = target.split("#") as [string, string | undefined]
      const to = path === "" ? file : resolve(dirname(file), path)
      if (relative(ROOT, to).startsWith("..")) {
        problems.push(`${where}: ${target} climbs out of the repository`)
        continue
      }
      if (!existsSync(to)) {
        problems.push(`${where}: ${target} does not exist`)
        continue
      }
      if (fragment && statSync(to).isFile() && to.endsWith(".md") && !anchors(readFileSync(to, "utf8")).has(fragment))
        problems.push(`${where}: ${target} names no heading of ${relative(ROOT, to)}`)
    }
  }
  expect(checked).toBeGreaterThan(20)
  expect(problems).toEqual([])
})

test("the checker catches what it should", () => {
  expect(links("[a](docs/x.md) `[b](no.md)` [c](https://example.invalid)")).toEqual(["docs/x.md", "https://example.invalid"])
  expect(links("```\n[d](in-code.md)\n```\n[e](out.md)")).toEqual(["out.md"])
  expect(anchors("# Running a node\n## The cluster's links\n")).toEqual(new Set(["running-a-node", "the-clusters-links"]))
})
