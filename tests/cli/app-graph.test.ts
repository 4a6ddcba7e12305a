import { afterAll, expect, test } from "bun:test"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { appGraph } from "../../framework/cli/app-graph.ts"

const dir = mkdtempSync(join(tmpdir(), "baton-graph-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function write(files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true })
    writeFileSync(join(dir, name), text)
  }
}

test("the app's files by who loads them: the nodes (entry, games, their imports) or only the browser (pages)", () => {
  write({
    "index.ts": 'import { defineApp } from "batonjs/server"\nimport duel from "./games/duel.ts"\nimport page from "./pages/index.html"\nexport default defineApp({ games: [duel], pages: { "/": page } })\n',
    "games/duel.ts": 'import { rules } from "./rules.ts"\nimport type { Hint } from "../pages/hint.ts"\nexport default { rules }\n',
    "games/rules.ts": "export const rules = 1\n",
    "pages/index.html": '<link rel="stylesheet" href="style.css"><link rel="icon" href="data:,"><script src="https://cdn.example/x.js"></script><script type="module" src="./index.ts"></script>',
    "pages/style.css": '@import "./theme.css";\n',
    "pages/theme.css": "body {}\n",
    "pages/index.ts": 'import { rules } from "../games/rules.ts"\nimport { show } from "./show.ts"\nshow(rules)\n',
    "pages/show.ts": "export const show = (x: unknown) => x\n",
    "pages/hint.ts": "export type Hint = string\n",
    "pages/unused.ts": "export {}\n",
    "tests/duel.test.ts": 'import duel from "../games/duel.ts"\n',
    "games/broken.ts": "export const = \n",
  })
  const g = appGraph(dir)
  const rel = (set: Set<string>) => [...set].map((f) => f.slice(dir.length + 1)).sort()
  // A type-only import (pages/hint.ts) runs nothing; a module both sides load (games/rules.ts) is in both.
  expect(rel(g.server)).toEqual(["games/duel.ts", "games/rules.ts", "index.ts"])
  expect(rel(g.pages)).toEqual(["games/rules.ts", "pages/index.html", "pages/index.ts", "pages/show.ts", "pages/style.css", "pages/theme.css"])

  // A file that does not parse is still known (its imports are not): the graph is read while the developer types.
  write({ "games/duel.ts": 'import { rules } from "./rules.ts"\nexport default { rules,, }\n' })
  expect(rel(appGraph(dir).server)).toEqual(["games/duel.ts", "index.ts"])
})
