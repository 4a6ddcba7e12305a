/** The `baton` commands (main.ts loads this once the environment is set). */
import { resolve } from "node:path"
import { parseArgs } from "node:util"
import { startNode } from "../server/index.ts"
import { loadApp } from "./load-app.ts"
import { runDev } from "./dev.ts"
import { runNew } from "./new.ts"
import { parentChannel } from "./event-channel.ts"
import { nodeOptionsFromEnv } from "./node-env.ts"

const USAGE = `usage: baton <command> [app-dir] [options]

commands:
  new <dir>     a new game project from a template (--template turn-based|realtime|lobby; asks when omitted)
  dev [app]     a local cluster of --nodes N (3) nodes behind a front door on --port (3000),
                with a live status table
  roll          replace every node of the local dev cluster (on --port) one at a time
  start [app]   run one production node configured by the environment:
                PORT (3000), HOST (0.0.0.0), BATON_DATA_DIR (disk store), BATON_LOG (json|pretty)

app defaults to ./app (a folder whose index.ts default-exports defineApp({...})).`

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { port: { type: "string" }, host: { type: "string" }, nodes: { type: "string" }, template: { type: "string", short: "t" }, help: { type: "boolean", short: "h" } },
  })
  const [command, appArg] = positionals
  if (values.help || !command) {
    console.log(USAGE)
    return command || values.help ? 0 : 2
  }
  const appDir = resolve(appArg ?? "app")
  switch (command) {
    case "new":
      return runNew({ dir: appArg, template: values.template })
    case "start": {
      const app = await loadApp(appDir)
      const port = portFrom(values.port ?? process.env.PORT ?? "3000")
      // Spawned with Bun's ipc option (the dev cluster, tests, benchmarks): every event goes to the parent.
      const channel = parentChannel()
      const flushed = async () => channel?.flushed()
      const running = await startNode({
        games: app.games,
        // In `baton dev` the front door serves the pages, hot reloaded: its nodes need not bundle them.
        pages: process.env.BATON_DEV_PAGES === "front-door" ? undefined : app.pages,
        authenticate: app.authenticate,
        authorizeCreate: app.authorizeCreate,
        port,
        hostname: values.host ?? process.env.HOST ?? "0.0.0.0",
        ...nodeOptionsFromEnv(process.env, port),
        onEvent: channel && ((event) => channel.send(event)),
        beforeExit: flushed,
      })
      stopAfterLifetime(() => running.stop().then(flushed))
      return -1
    }
    case "dev": {
      const nodes = Number(values.nodes ?? "3")
      if (!Number.isInteger(nodes) || nodes < 1 || nodes > 16) throw new Error(`--nodes must be 1-16, got "${values.nodes}"`)
      const app = await loadApp(appDir) // fail here, once, with the app's error, rather than in every node
      await runDev({ appDir, port: portFrom(values.port ?? "3000"), nodes, pages: app.pages })
      return -1
    }
    case "roll": {
      // Rolls the local cluster that `baton dev` runs on --port (default 3000), printing its progress.
      const port = portFrom(values.port ?? "3000")
      const res = await fetch(`http://127.0.0.1:${port}/_baton/roll`, { method: "POST" }).catch(() => undefined)
      if (!res?.ok || !res.body) {
        console.error(`baton roll: no dev cluster answers on port ${port} (start one with bun run dev)`)
        return 1
      }
      const decoder = new TextDecoder()
      const reader = res.body.getReader()
      for (let r = await reader.read(); !r.done; r = await reader.read()) process.stdout.write(decoder.decode(r.value))
      return 0
    }
    default:
      console.error(`baton: unknown command "${command}"\n\n${USAGE}`)
      return 2
  }
}

/** BATON_MAX_LIFETIME_MS: a node started by a test or a script stops by itself, even if its parent died. */
function stopAfterLifetime(stop: () => Promise<void>): void {
  const ms = Number(process.env.BATON_MAX_LIFETIME_MS)
  if (ms > 0) setTimeout(() => stop().finally(() => process.exit(0)), ms).unref()
}

function portFrom(text: string): number {
  const port = Number(text)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`baton: port must be an integer 0-65535, got "${text}"`)
    process.exit(2)
  }
  return port
}

const code = await main(process.argv.slice(2)).catch((error) => {
  console.error(`baton: ${error instanceof Error ? error.message : String(error)}`)
  return 1
})
if (code >= 0) process.exit(code)
