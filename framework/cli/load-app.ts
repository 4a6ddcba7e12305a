import { existsSync } from "node:fs"
import { join } from "node:path"
import type { App } from "../server/index.ts"

/**
 * Imports an app folder's index.ts and checks it is a defineApp(...) with games.
 * `fresh` imports the entry again as it is on disk now (what it imports stays as first loaded).
 */
export async function loadApp(dir: string, fresh?: number): Promise<App> {
  const entry = join(dir, "index.ts")
  if (!existsSync(entry)) throw new Error(`no app at ${dir}: expected ${entry} exporting defineApp({ games, pages })`)
  const mod = (await import(fresh ? `${entry}?fresh=${fresh}` : entry)) as { default?: App }
  const app = mod.default
  if (!app || !Array.isArray(app.games) || app.games.length === 0)
    throw new Error(`${entry} must default-export defineApp({ games: [...] }) with at least one game`)
  return app
}
