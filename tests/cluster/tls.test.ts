import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { TEST_SECRET } from "../support/cluster.ts"
import { freePort, type NodeProcess, startNodeProcess } from "../support/node-process.ts"
import { waitUntil } from "../support/wait.ts"

/** A throwaway CA and one certificate for 127.0.0.1 signed by it (what an operator's own CA would give). */
function makeCerts(dir: string): { ca: string; cert: string; key: string } {
  const run = (...args: string[]) => {
    const r = Bun.spawnSync(["openssl", ...args], { cwd: dir, stderr: "pipe" })
    if (r.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr.toString()}`)
  }
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
  run("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=baton test CA")
  run("req", ...ec, "-keyout", "node.key", "-out", "node.csr", "-subj", "/CN=127.0.0.1")
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
  run("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "node.pem", "-days", "1", "-extfile", "ext.cnf")
  return { ca: join(dir, "ca.pem"), cert: join(dir, "node.pem"), key: join(dir, "node.key") }
}

const dir = mkdtempSync(join(tmpdir(), "baton-tls-"))
const nodes: NodeProcess[] = []
let ca: string
let ids: string[]
/** This test process does not trust the CA globally: it passes it per request. */
const get = async <T>(url: string, init: RequestInit = {}) => (await (await fetch(url, { ...init, tls: { ca } } as RequestInit)).json()) as T
const nodeId = (n: NodeProcess) => get<{ node: string }>(`${n.url}/healthz`).then((b) => b.node)
const members = (n: NodeProcess) => get<{ members: { id: string; url: string; up: boolean; status: string }[] }>(`${n.url}/cluster`).then((b) => b.members)
const inspect = (n: NodeProcess, id: string) => get<{ entry: { owner: string } | null; replicaSet: string[]; rev: number | null }>(`${n.url}/cluster/sessions/${id}`)

beforeAll(async () => {
  const files = makeCerts(dir)
  ca = readFileSync(files.ca, "utf8")
  // Three: a takeover needs a majority, and one of two is not one.
  const ports = [freePort(), freePort(), freePort()]
  const peers = ports.map((p) => `https://127.0.0.1:${p}`).join(",")
  nodes.push(
    ...(await Promise.all(
      ports.map((port) =>
        startNodeProcess({
          port,
          env: {
            BATON_CLUSTER_SECRET: TEST_SECRET,
            BATON_PEERS: peers,
            BATON_HEARTBEAT_MS: "200",
            BATON_FAILURE_MS: "3000",
            BATON_TLS_CERT: files.cert,
            BATON_TLS_KEY: files.key,
            // How a node trusts its peers' certificates: Bun reads this at start, for every outgoing connection.
            NODE_EXTRA_CA_CERTS: files.ca,
          },
        }),
      ),
    )),
  )
  ids = await Promise.all(nodes.map(nodeId))
})
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.kill()))
  rmSync(dir, { recursive: true, force: true })
})

/** A player on wss:// (raw protocol, trusting the test CA). */
async function player(url: string, session: string, name: string) {
  const frames: Record<string, unknown>[] = []
  const ws = new WebSocket(`${url.replace("https", "wss")}/ws`, { tls: { ca } } as unknown as string[])
  ws.onmessage = (e) => frames.push(JSON.parse(String(e.data)))
  await new Promise((done, fail) => {
    ws.onopen = done
    ws.onerror = () => fail(new Error(`cannot open ${url}/ws`))
  })
  ws.send(JSON.stringify({ t: "join", session, player: name, client: crypto.randomUUID() }))
  const joined = await waitUntil(() => frames.find((f) => f.t === "joined"), "joined")
  const acked = (id: number) => frames.some((f) => f.t === "u" && (f.a as { i: number; ok: boolean }[] | undefined)?.some((a) => a.i === id && a.ok))
  /** The session's revision as of the last frame: what the player was told. */
  const rev = () => Math.max(...frames.map((f) => (typeof f.rev === "number" ? f.rev : 0)))
  return { ws, joined: joined as { view: { notes: unknown[] }; rev: number }, acked, rev }
}

describe("cluster links over TLS (3 real nodes, a self-signed CA)", () => {
  test("the nodes find each other over https/wss, and only that", async () => {
    for (const n of nodes) {
      expect(n.url).toStartWith("https://")
      await waitUntil(async () => (await members(n)).filter((m) => m.up && m.status === "ready").length === nodes.length, "every member up", { timeoutMs: 20_000 })
      expect((await members(n)).every((m) => m.url.startsWith("https://"))).toBe(true)
    }
    // A client that does not trust the CA gets no answer.
    expect(await fetch(`${nodes[0]!.url}/healthz`).then(() => "answered", () => "refused")).toBe("refused")
  })

  test("a session replicates over the TLS sync link and fails over when its owner is killed", async () => {
    const { id } = await get<{ id: string }>(`${nodes[0]!.url}/sessions`, { method: "POST", body: JSON.stringify({ game: "notes" }) })
    const entry = await waitUntil(async () => (await inspect(nodes[0]!, id)).entry ?? undefined, "the registry has it")
    const owner = nodes[ids.indexOf(entry.owner)]!
    // The owner's replica holds the copy, and heads the ranking once the owner is gone.
    const replica = ((await inspect(owner, id)).replicaSet as string[]).find((n) => n !== entry.owner)!
    const other = nodes[ids.indexOf(replica)]!
    const p = await player(owner.url, id, "ada")
    for (let i = 1; i <= 10; i++) {
      p.ws.send(JSON.stringify({ t: "act", id: i, name: "add", input: { text: `note ${i}` } }))
      await waitUntil(() => p.acked(i), `action ${i} acknowledged`)
    }
    // Notes are "local": only what reached the replica survives the owner, so wait for the last action's revision
    // there (the owner's own document may lag its live session by a checkpoint, so it is no yardstick).
    const rev = p.rev()
    await waitUntil(async () => ((await inspect(other, id)).rev ?? 0) >= rev, `the replica reaches rev ${rev}`, { timeoutMs: 20_000 })
    p.ws.close()
    await owner.kill()
    const survivor = ids[nodes.indexOf(other)]!
    await waitUntil(async () => (await inspect(other, id)).entry?.owner === survivor, "the survivor takes the session over", { timeoutMs: 20_000 })
    const again = await player(other.url, id, "ada")
    expect(again.joined.view.notes).toHaveLength(10)
    again.ws.close()
  })
})
