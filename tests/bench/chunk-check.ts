/**
 * What checking every chunk on load costs a restart: a data dir with N
 * counter sessions (a few checkpoints each), then the time to open the store
 * and load every session, and the time the chunk checks alone take.
 * `bun tests/bench/chunk-check.ts [sessions]` (default 1,000).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Session } from "batonjs"
import counter from "../../app/games/counter.ts"
import { damageOf } from "../../framework/store/checked-storage.ts"
import { Store } from "../../framework/store/index.ts"

const n = Number(process.argv[2] ?? 1000)
const dataDir = mkdtempSync(join(tmpdir(), "baton-chunk-check-"))
try {
  const store = await Store.open({ dataDir, peerId: "bench-writer", checkpointMs: 0 })
  const ids: string[] = []
  for (let i = 0; i < n; i++) {
    const s = Session.create(counter, { id: `s${i}`, now: Date.now(), options: undefined, seed: `seed${i}` })
    store.create(s.record, "bench-writer")
    for (let k = 0; k < 5; k++) {
      s.act({ player: "p", client: "c", id: k + 1, name: "inc", input: { by: 1 }, now: Date.now() })
      store.checkpoint(s.record)
      store.writeCheckpoints(Number.POSITIVE_INFINITY, true)
    }
    ids.push(s.id)
  }
  await store.close()

  const files: string[] = []
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) walk(path)
      else if (/\/(snapshot|incremental)\//.test(path)) files.push(path)
    }
  }
  walk(join(dataDir, "automerge"))
  const bytes = files.map((f) => new Uint8Array(readFileSync(f)))
  const checkStart = performance.now()
  for (const b of bytes) damageOf(b)
  const checkMs = performance.now() - checkStart

  const openStart = performance.now()
  const reopened = await Store.open({ dataDir, peerId: "bench-reader" })
  for (const id of ids) await reopened.load(id)
  const openMs = performance.now() - openStart
  await reopened.close()
  console.log(
    `${n} sessions, ${files.length} chunk files (${Math.round(bytes.reduce((t, b) => t + b.length, 0) / 1024)} KB): open + load all ${Math.round(openMs)} ms, of which checking the chunks ~${Math.round(checkMs)} ms (${Math.round((checkMs / openMs) * 100)} %)`,
  )
} finally {
  rmSync(dataDir, { recursive: true, force: true })
}
