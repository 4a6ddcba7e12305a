import { afterAll, describe, expect, test } from "bun:test"
import { createSession, join } from "batonjs/client"
import type notes from "../fixtures/app/notes.ts"
import { TestCluster } from "../support/cluster.ts"
import { RawSocket } from "../support/raw-socket.ts"
import { waitUntil } from "../support/wait.ts"

let c: TestCluster | undefined
afterAll(() => c?.stopAll())

/** Parses the Prometheus text format: every sample line is `name{labels} value`. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue
    const m = /^([a-z_]+(?:\{[^}]*\})?) (-?[0-9.e+]+)$/.exec(line)
    if (!m) throw new Error(`not a sample line: ${line}`)
    out.set(m[1] as string, Number(m[2]))
  }
  return out
}

describe("GET /metrics", () => {
  test("Prometheus text with sessions, players, actions, refusals, latency, members, moves", async () => {
    c = await TestCluster.start(2)
    const cluster = c
    const { id } = await createSession({ url: cluster.nodes[0]!.url, game: "notes" })
    const owner = await waitUntil(async () => ((await (await fetch(`${cluster.nodes[0]!.url}/cluster/sessions/${id}`)).json()) as { entry: { owner: string } | null }).entry?.owner, "owner")
    const ids = await Promise.all(cluster.nodes.map((n) => cluster.idOf(n)))
    const ownerNode = cluster.nodes[ids.indexOf(owner)]!
    const p = await join<typeof notes>({ url: ownerNode.url, session: id, player: "ada" })
    for (let i = 0; i < 5; i++) await p.act("add", { text: `n${i}` })
    await p.act("add", { text: "" }).catch(() => {})
    const res = await fetch(`${ownerNode.url}/metrics`)
    expect(res.headers.get("content-type")).toContain("text/plain")
    const m = samples(await res.text())
    expect(m.get("baton_sessions")).toBe(1)
    expect(m.get("baton_players")).toBe(1)
    expect(m.get("baton_actions_total")).toBe(6)
    expect(m.get('baton_actions_rejected_total{code="invalid_input"}')).toBe(1)
    expect(m.get("baton_action_seconds_count")).toBe(6)
    // A resend (the same client and id again, as after a reconnect) is answered from the ledger: no new action.
    const raw = await RawSocket.open(ownerNode.url)
    raw.send({ t: "join", session: id, player: "bob", client: "c-bob" })
    await raw.next((f) => f.t === "joined")
    raw.send({ t: "act", id: 1, name: "add", input: { text: "once" } })
    raw.send({ t: "act", id: 1, name: "add", input: { text: "once" } })
    const answers = () => raw.frames.flatMap((f) => (f.t === "u" && f.a ? (f.a as { i: number }[]) : [])).filter((a) => a.i === 1)
    await waitUntil(() => answers().length === 2, "both sends of action 1 answered")
    raw.close()
    expect(samples(await (await fetch(`${ownerNode.url}/metrics`)).text()).get("baton_actions_total")).toBe(7)
    expect(m.get('baton_document_bytes{stat="max"}')).toBeGreaterThan(100)
    expect([...m.keys()].filter((k) => k.startsWith("baton_cluster_member_up{")).length).toBe(2)
    // A drain shows up as moves on the node that stopped… and the session on the other.
    const other = cluster.nodes.find((n) => n !== ownerNode)!
    const beforeStop = samples(await (await fetch(`${ownerNode.url}/metrics`)).text())
    expect(beforeStop.get("baton_handoff_seconds_count")).toBe(0)
    await ownerNode.stop()
    const after = samples(await (await fetch(`${other.url}/metrics`)).text())
    expect(after.get("baton_sessions")).toBe(1)
    expect(after.get("baton_failover_seconds_count")).toBe(0) // a handoff, not a failover
    p.close()
  })
})
