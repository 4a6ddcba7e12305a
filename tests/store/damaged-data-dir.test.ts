import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join as joinPath } from "node:path"
import * as A from "@automerge/automerge"
import { type GameSession, createSession, join } from "batonjs/client"
import type counter from "../../app/games/counter.ts"
import { registryDocId } from "../../framework/store/registry.ts"
import { TestCluster } from "../support/cluster.ts"
import { freePort, type NodeProcess, startNodeProcess, stopAllNodes } from "../support/node-process.ts"
import { waitUntil } from "../support/wait.ts"

/**
 * A data dir damaged the way disks and crashes damage files: garbage
 * bytes, a truncated file (a crash during a save), an emptied one. Each
 * kind of file in turn: the registry's chunks, a session document's chunks.
 * Real processes (`baton start` with BATON_DATA_DIR), real files.
 */

const ADMIN = { authorization: "Bearer admin" }
const ACTS = 20
const root = mkdtempSync(joinPath(tmpdir(), "baton-damaged-"))
/** The data dir every case starts from a copy of: SESSIONS counter sessions, each with ACTS acknowledged actions. */
const golden = joinPath(root, "golden")
/** Five: the damaged-session case damages three (one per kind of damage) and plays on the other two. */
const SESSIONS = 5
let sessions: string[] = []
const players: GameSession<typeof counter>[] = []
let cluster: TestCluster | undefined

afterAll(async () => {
  for (const p of players) p.close()
  await cluster?.stopAll()
  await stopAllNodes()
  rmSync(root, { recursive: true, force: true })
})

const env = (dataDir: string) => ({ BATON_DATA_DIR: dataDir, BATON_ADMIN_TOKEN: "admin" })

beforeAll(async () => {
  const node = await startNodeProcess({ env: env(golden) })
  for (let i = 0; i < SESSIONS; i++) {
    const res = await fetch(`${node.url}/sessions`, { method: "POST", headers: ADMIN, body: JSON.stringify({ game: "counter" }) })
    sessions.push(((await res.json()) as { id: string }).id)
  }
  for (const id of sessions) {
    const p = await join<typeof counter>({ url: node.url, session: id, player: "p" })
    for (let i = 0; i < ACTS; i++) await p.act("inc", { by: 1 })
    p.close()
  }
  expect(await node.stop()).toBe(0)
  sessions = [...sessions].sort()
}, 60_000)

/** The chunk files of one stored document (snapshot and incremental; not its sync states). */
function chunkFiles(dataDir: string, document: string): string[] {
  const dir = joinPath(dataDir, "automerge", document.slice(0, 2), document.slice(2))
  return ["snapshot", "incremental"].flatMap((kind) => (existsSync(joinPath(dir, kind)) ? readdirSync(joinPath(dir, kind)).map((f) => joinPath(dir, kind, f)) : []))
}

/** The stored document that holds a session, found by reading every document's first checkpoint. */
function documentOf(dataDir: string, session: string): string {
  const base = joinPath(dataDir, "automerge")
  for (const head of readdirSync(base)) {
    if (!statSync(joinPath(base, head)).isDirectory()) continue
    for (const rest of readdirSync(joinPath(base, head))) {
      const document = head + rest
      let doc = A.init<Record<string, unknown>>()
      for (const f of chunkFiles(dataDir, document)) doc = A.loadIncremental(doc, new Uint8Array(readFileSync(f)))
      if (typeof doc.base === "object" || typeof doc.base === "string") if (JSON.parse(String(doc.base)).record.id === session) return document
    }
  }
  throw new Error(`no stored document holds session ${session}`)
}

const damages: Record<string, (file: string) => void> = {
  garbage: (file) => writeFileSync(file, crypto.getRandomValues(new Uint8Array(statSync(file).size))),
  truncated: (file) => truncateSync(file, Math.floor(statSync(file).size / 2)),
  empty: (file) => writeFileSync(file, new Uint8Array()),
}

/** A copy of the golden data dir with `files(dataDir)` damaged; returns the damaged files. */
function damagedCopy(name: string, files: (dataDir: string) => string[], damage: (file: string) => void): { dataDir: string; damaged: string[] } {
  const dataDir = joinPath(root, name)
  cpSync(golden, dataDir, { recursive: true })
  const damaged = files(dataDir)
  expect(damaged.length).toBeGreaterThan(0)
  for (const f of damaged) damage(f)
  return { dataDir, damaged }
}

/** The session's counter total as a player joining it now sees it. */
async function totalOf(node: NodeProcess, session: string): Promise<number> {
  const p = await join<typeof counter>({ url: node.url, session, player: "reader" })
  players.push(p)
  const total = p.state.total
  p.close()
  return total
}


describe("a damaged registry", () => {
  for (const [kind, damage] of Object.entries(damages)) {
    test(`${kind} registry files: the node starts, names them, sets them aside, rebuilds the registry and serves every session`, async () => {
      const { dataDir, damaged } = damagedCopy(`registry-${kind}`, (d) => chunkFiles(d, registryDocId("baton")), damage)
      const node = await startNodeProcess({ port: freePort(), env: env(dataDir) })
      const [rebuilt] = node.eventsOf("registry-rebuilt", (e) => e.why === "damaged")
      expect(rebuilt).toBeDefined()
      const named = (rebuilt?.setAside ?? []).map((f) => f.file)
      for (const f of damaged) expect(named).toContain(f)
      expect(rebuilt?.sessions).toBe(SESSIONS)
      // Set aside, not deleted: the operator's data stays.
      for (const f of rebuilt?.setAside ?? []) expect(existsSync(f.movedTo)).toBe(true)
      expect(node.eventsOf("sessions-resumed")[0]).toMatchObject({ resumed: SESSIONS, stored: SESSIONS })
      for (const id of sessions) expect(await totalOf(node, id)).toBe(ACTS)
      expect(await node.stop()).toBe(0)
      // The rebuilt registry is the registry from now on.
      const again = await startNodeProcess({ port: freePort(), env: env(dataDir) })
      expect(again.eventsOf("sessions-resumed")[0]).toMatchObject({ resumed: SESSIONS })
      expect(again.eventsOf("registry-rebuilt")).toEqual([])
      expect(again.stderr()).not.toContain("registry")
      expect(await again.stop()).toBe(0)
    }, 60_000)
  }

  test("a missing registry beside stored sessions is rebuilt too", async () => {
    const { dataDir } = damagedCopy("registry-missing", (d) => chunkFiles(d, registryDocId("baton")), (f) => rmSync(f))
    const node = await startNodeProcess({ port: freePort(), env: env(dataDir) })
    expect(node.eventsOf("registry-rebuilt", (e) => e.why === "missing")[0]).toMatchObject({ sessions: SESSIONS })
    expect(node.eventsOf("sessions-resumed")[0]).toMatchObject({ resumed: SESSIONS })
    expect(await node.stop()).toBe(0)
  }, 60_000)
})

describe("a damaged storage id", () => {
  for (const [kind, damage] of Object.entries(damages)) {
    test(`${kind} storage id file: named, set aside and replaced; every session is served`, async () => {
      const file = (d: string) => joinPath(d, "automerge", "st", "orage-adapter-id")
      const { dataDir } = damagedCopy(`storage-id-${kind}`, (d) => [file(d)], damage)
      const node = await startNodeProcess({ port: freePort(), env: env(dataDir) })
      const named = await node.waitForEvent("damaged-file")
      expect(named).toMatchObject({ file: file(dataDir) })
      expect(existsSync(named.movedTo)).toBe(true)
      expect(node.eventsOf("sessions-resumed")[0]).toMatchObject({ resumed: SESSIONS })
      await waitUntil(() => existsSync(file(dataDir)) && /^[0-9a-f-]{36}$/.test(readFileSync(file(dataDir), "utf8")), "a new storage id is written")
      expect(await node.stop()).toBe(0)
    }, 60_000)
  }
})

describe("a damaged session document", () => {
  test("garbage, truncated and emptied files of three sessions: the node names each, serves the others, and its SIGTERM persists every acknowledged action and exits 0", async () => {
    const kinds = Object.entries(damages)
    const victims = sessions.slice(0, kinds.length)
    const healthy = sessions.slice(kinds.length)
    // One data dir, each victim's files damaged a different way.
    const dataDir = joinPath(root, "sessions-damaged")
    cpSync(golden, dataDir, { recursive: true })
    const damaged = new Map<string, string>()
    // Every victim's files found before any is damaged (finding one reads every document).
    const files = victims.map((v) => chunkFiles(dataDir, documentOf(dataDir, v)))
    for (const [i, [, damage]] of kinds.entries()) {
      expect(files[i]?.length).toBeGreaterThan(0)
      for (const f of files[i] ?? []) damaged.set(f, victims[i] as string)
      for (const f of files[i] ?? []) damage(f)
    }
    const node = await startNodeProcess({ port: freePort(), env: env(dataDir) })
    const named = node.eventsOf("damaged-file")
    expect(named.map((e) => e.file).sort()).toEqual([...damaged.keys()].sort())
    for (const e of named) expect(e.session).toBe(damaged.get(e.file) as string)
    expect(node.eventsOf("resume-failed").map((e) => e.session).sort()).toEqual([...victims].sort())
    expect(node.eventsOf("sessions-resumed")[0]).toMatchObject({ resumed: healthy.length, stored: SESSIONS })

    // Actions on the healthy sessions up to the SIGTERM: every one acknowledged must survive it.
    const acked = new Map<string, number>()
    const clients = await Promise.all(healthy.map((id) => join<typeof counter>({ url: node.url, session: id, player: "p", backoffMs: 50, maxBackoffMs: 200 })))
    players.push(...clients)
    for (const c of clients) expect(c.state.total).toBe(ACTS)
    let running = true
    const loops = clients.map(async (c, i) => {
      const id = healthy[i] as string
      while (running && c.status === "open") {
        try {
          await c.act("inc", { by: 1 })
          acked.set(id, (acked.get(id) ?? 0) + 1)
        } catch {
          break
        }
      }
    })
    await waitUntil(() => healthy.every((id) => (acked.get(id) ?? 0) >= 50), "each healthy session has 50 more acknowledged actions", { timeoutMs: 30_000 })
    const code = await node.stop()
    running = false
    for (const c of clients) c.close()
    await Promise.all(loops)
    expect(code).toBe(0)
    expect((node.eventsOf("stopped")[0]?.unreadable ?? []).map((u) => u.session).sort()).toEqual([...victims].sort())

    const again = await startNodeProcess({ port: freePort(), env: env(dataDir) })
    for (const id of healthy) expect(await totalOf(again, id)).toBeGreaterThanOrEqual(ACTS + (acked.get(id) ?? 0))
    expect(await again.stop()).toBe(0)
  }, 90_000)
})

describe("a damaged session document on a clustered node", () => {
  test("the node sets the damaged file aside, fetches the document from a peer, and its SIGTERM hands every session over and exits 0", async () => {
    const dataDir = joinPath(root, "clustered")
    cluster = await TestCluster.start(1, { BATON_ADMIN_TOKEN: "admin" })
    const peer = cluster.nodes[0] as NodeProcess
    const first = await cluster.add({ env: { BATON_DATA_DIR: dataDir } })
    await cluster.waitConverged()
    const ids: string[] = []
    for (let i = 0; i < 4; i++) ids.push((await createSession({ url: (i % 2 ? peer : first).url, game: "counter" })).id)
    for (const id of ids) {
      const p = await join<typeof counter>({ url: peer.url, session: id, player: "p" })
      for (let i = 0; i < ACTS; i++) await p.act("inc", { by: 1 })
      p.close()
    }
    // Two nodes, two replicas: the node with the data dir holds every session's document.
    const documents = await waitUntil(() => ids.map((id) => documentOf(dataDir, id)), "every session's document is on the data dir", { timeoutMs: 20_000 })
    expect(await first.stop()).toBe(0)

    const victim = ids[0] as string
    const damaged = chunkFiles(dataDir, documents[0] as string)
    for (const f of damaged) damages.garbage?.(f)
    const second = await cluster.add({ env: { BATON_DATA_DIR: dataDir } })
    await cluster.waitConverged()
    const named = await waitUntil(
      () => {
        const found = second.eventsOf("damaged-file")
        return found.length >= damaged.length ? found : undefined
      },
      "every damaged file is named",
      { timeoutMs: 20_000 },
    )
    expect(named.map((e) => e.file).sort()).toEqual([...damaged].sort())
    for (const e of named) expect(e.session).toBe(victim)

    // A session this node owns, played on through its SIGTERM.
    const secondId = await cluster.idOf(second)
    const ownerOf = async (id: string) => ((await (await fetch(`${peer.url}/cluster/sessions/${id}`)).json()) as { entry: { owner: string } | null }).entry?.owner
    let mine: string | undefined
    for (let i = 0; i < 16 && !mine; i++) {
      const { id } = await createSession({ url: second.url, game: "counter" })
      await waitUntil(async () => (await ownerOf(id)) !== undefined, "the peer's registry has the new session")
      if ((await ownerOf(id)) === secondId) mine = id
    }
    expect(mine).toBeDefined()
    const player = await join<typeof counter>({ url: peer.url, session: mine as string, player: "p", backoffMs: 50, maxBackoffMs: 200 })
    players.push(player)
    let acked = 0
    let running = true
    const loop = (async () => {
      while (running) {
        await player.act("inc", { by: 1 })
        acked++
      }
    })()
    await waitUntil(() => acked >= 50, "50 acknowledged actions", { timeoutMs: 30_000 })
    expect(await second.stop()).toBe(0)
    await waitUntil(() => acked >= 60, "the player plays on after the handoff", { timeoutMs: 30_000 })
    running = false
    await loop
    await waitUntil(() => player.state.total === acked, `the session shows all ${acked} acknowledged actions`)
    expect(await totalOf(peer, victim)).toBe(ACTS)
  }, 120_000)
})
