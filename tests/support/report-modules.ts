// Preloaded into a node process by tests: at exit it writes which modules were loaded to
// BATON_REPORT_MODULES (a test asks which build of a dependency a node ran).
import { writeFileSync } from "node:fs"

process.on("exit", () => {
  const path = process.env.BATON_REPORT_MODULES
  if (path) writeFileSync(path, JSON.stringify(Object.keys(require.cache)))
})
