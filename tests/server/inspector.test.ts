import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test"
import { createSession, join } from "batonjs/client"
import { ActionError } from "../../framework/client/session.ts"
import { type ReplayFile, type SessionRecord, Session } from "../../framework/game/index.ts"
import type { InspectView } from "../../framework/node/inspect.ts"
import { applyPatch } from "../../framework/protocol/index.ts"
import notes from "../fixtures/app/notes.ts"
import { TestCluster } from "../support/cluster.ts"
import { freePort, startNodeProcess, stopAllNodes } from "../support/node-process.ts"
import { waitUntil } from "../support/wait.ts"

const ADMIN = "admin-token-for-tests"
let cluster: TestCluster | undefined
afterAll(async () => {
  await cluster?.stopAll()
  await stopAllNodes()
})
// Real processes on a shared, loaded machine: every wait below has its own bound.
setDefaultTimeout(120_000)

type Inspected = InspectView & { via: { node: string; how: string; owner?: string } }
const getJson = async <T>(url: string, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { headers })
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}
const errorOf = async (res: Response) => ({ status: res.status, ...((await res.json()) as { error: { code: string; message: string } }).error })

/** Plays notes with two players: notes, a secret each, a roll, a refused action, a timer that fires and one that waits, a leave. */
async function play(url: string, session: string): Promise<void> {
  const ada = await join<typeof notes>({ url, session, player: "ada" })
  const bob = await join<typeof notes>({ url, session, player: "bob" })
  await ada.act("add", { text: "first" })
  await bob.act("secret", { value: "bob-secret" })
  await ada.act("secret", { value: "ada-secret" })
  await ada.act("roll", {})
  await bob.act("add", { text: "second" })
  // Refused by the input schema: recorded with its code, like a success.
  await expect(bob.act("add", { text: "" })).rejects.toBeInstanceOf(ActionError)
  await ada.act("remind", { ms: 30, text: "soon" })
  await bob.act("remind", { ms: 600_000, text: "much later" })
  await waitUntil(() => ada.state?.notes.some((n) => n.text === "soon"), "the short reminder fired")
  await ada.act("roll", {})
  await bob.leave()
  ada.close()
}

/** The records at every position of an inspected history, rebuilt as the dashboard does. */
function positions(v: InspectView): SessionRecord[] {
  const out = [v.history.start.record]
  for (const c of v.history.checkpoints) out.push(applyPatch(out[out.length - 1] as SessionRecord, c.ops))
  return out
}

describe("the session inspector's HTTP API", () => {
  test("operators only; hostile ids and parameters are refused with a clear 4xx, and nothing reaches a prototype", async () => {
    const adminPort = freePort()
    const node = await startNodeProcess({ env: { BATON_OPERATOR_VIEWS: "", BATON_ADMIN_TOKEN: ADMIN, BATON_ADMIN_PORT: String(adminPort) } })
    const admin = `http://127.0.0.1:${adminPort}`
    const bearer = { authorization: `Bearer ${ADMIN}` }
    const { id } = await createSession({ url: node.url, game: "notes", token: ADMIN })
    for (const path of [`/sessions/${id}/inspect`, `/sessions/${id}/export`]) {
      const refused = await errorOf(await fetch(node.url + path))
      expect({ path, ...refused }).toMatchObject({ path, status: 401, code: "unauthorized" })
      expect(refused.message).toMatch(/BATON_ADMIN_PORT|BATON_ADMIN_TOKEN/)
      expect((await fetch(node.url + path, { headers: { authorization: `Bearer ${ADMIN}x` } })).status).toBe(401)
      expect([path, (await fetch(node.url + path, { headers: bearer })).status]).toEqual([path, 200])
      expect([path, (await fetch(admin + path)).status]).toEqual([path, 200])
    }
    const cases: [string, number, string, RegExp][] = [
      ["/sessions/__proto__/inspect", 400, "invalid_id", /reserved/],
      ["/sessions/constructor/export", 400, "invalid_id", /reserved/],
      ["/sessions/hasOwnProperty/inspect", 400, "invalid_id", /reserved/],
      [`/sessions/${"x".repeat(65)}/inspect`, 400, "invalid_id", /at most 64/],
      ["/sessions/a%00b/inspect", 400, "invalid_id", /control/],
      ["/sessions/%20x/export", 400, "invalid_id", /whitespace/],
      ["/sessions/nosuchsession/inspect", 404, "unknown_session", /no session nosuchsession/],
      ["/sessions/nosuchsession/export", 404, "unknown_session", /no session nosuchsession/],
      [`/sessions/${id}/inspect?tail=abc`, 400, "bad_request", /tail must be one integer from 1 to 1000/],
      [`/sessions/${id}/inspect?tail=0`, 400, "bad_request", /tail/],
      [`/sessions/${id}/inspect?tail=1001`, 400, "bad_request", /tail/],
      [`/sessions/${id}/inspect?tail=1&tail=2`, 400, "bad_request", /tail/],
      [`/sessions/${id}/inspect?__proto__=1`, 400, "bad_request", /not "__proto__"/],
      [`/sessions/${id}/inspect?constructor[x]=1`, 400, "bad_request", /not "constructor\[x\]"/],
      [`/sessions/${id}/export?tail=5`, 400, "bad_request", /takes no query parameters/],
    ]
    for (const [path, status, code, message] of cases) {
      const got = await errorOf(await fetch(admin + path))
      expect({ path, status: got.status, code: got.code }).toEqual({ path, status, code })
      expect(got.message).toMatch(message)
    }
    expect((await getJson<Inspected>(`${admin}/sessions/${id}/inspect?tail=3`)).session).toBe(id)
    // Still healthy: no handler threw, no shared prototype was touched.
    expect(await getJson(`${node.url}/healthz`)).toMatchObject({ ok: true })
    expect(node.eventsOf("handler-failed")).toEqual([])
  })

  test("a real session: its state, views, timers and steps; its history rebuilds every checkpoint; its export replays to the same state", async () => {
    const node = await startNodeProcess({ env: { BATON_CHECKPOINT_MS: "20" } })
    const { id } = await createSession({ url: node.url, game: "notes" })
    await play(node.url, id)
    const v = await waitUntil(async () => {
      const got = await getJson<Inspected>(`${node.url}/sessions/${id}/inspect`)
      return got.history.checkpoints.every((c) => !c.live) && got.history.checkpoints.length >= 2 ? got : undefined
    }, "the session's newest record is checkpointed")
    expect(v).toMatchObject({ session: id, game: "notes", copy: "owner", node: node.id, via: { node: node.id, how: "here" } })
    expect(v.players).toEqual([{ player: "ada", seat: 0, joinedAt: expect.any(Number), connected: expect.any(Boolean) }])
    // Each player's view is the game's: ada sees her own secret only.
    expect(v.views).toEqual([{ player: "ada", view: expect.objectContaining({ secrets: { mine: "ada-secret", count: 2 } }) }])
    expect(v.timers).toEqual([{ id: 2, name: "reminder", at: expect.any(Number), payload: { text: "much later", by: "bob" } }])
    const kinds = v.ledger.map((s) => (s.k === "act" ? `${s.player} ${s.name}${s.ok ? "" : ` refused ${s.code}`}` : s.k === "advance" ? `advance ${s.timers}` : `${s.k} ${"player" in s ? s.player : ""}`))
    expect(kinds).toEqual(["join ada", "join bob", "ada add", "bob secret", "ada secret", "ada roll", "bob add", "bob add refused invalid_input", "ada remind", "bob remind", "advance reminder", "ada roll", "leave bob"])
    const roll = v.ledger.find((s) => s.k === "act" && s.name === "roll")
    expect(roll).toMatchObject({ ok: true, value: (v.record.state as { rolls: number[] }).rolls[0] })
    // Scrubbing: applying each checkpoint's ops from the start gives the newest record; each change is listed readably.
    const at = positions(v)
    expect(at[at.length - 1]).toEqual(v.record)
    expect(v.history.checkpoints.every((c) => c.replayable)).toBe(true)
    expect(v.history.replayFrom).toBe(-1)
    const changes = v.history.checkpoints.flatMap((c) => c.changes)
    expect(changes).toContainEqual({ path: "state.notes[0]", kind: "added", after: { by: "ada", text: "first" } })
    expect(changes).toContainEqual({ path: "players[1]", kind: "removed", before: expect.objectContaining({ player: "bob" }) })
    expect(changes.some((c) => c.path === "rev")).toBe(false)

    // The export: a download, which Session.replay loads and replays to the live state.
    const res = await fetch(`${node.url}/sessions/${id}/export`)
    expect(res.headers.get("content-disposition")).toMatch(new RegExp(`attachment; filename="baton-notes-${id}-rev\\d+\\.json"`))
    const file = (await res.json()) as ReplayFile
    expect(file.start.rev).toBe(1) // never compacted: the session as created
    expect(file.end).toEqual(v.record)
    const replayed = Session.replay(notes, file, { check: true })
    expect(replayed.record).toEqual(file.end)
    expect(replayed.view("ada")).toEqual(v.views[0]?.view as never)
    // Stopping before a step: the state as it was then.
    const upToFirstRoll = file.steps.findIndex((s) => s.k === "act" && s.name === "roll")
    expect(Session.replay(notes, file, { steps: upToFirstRoll }).record.state.rolls).toEqual([])
  })

  test("in a cluster: any node relays to the owner; from a replica's copy when the owner does not answer; the history survives a handoff", async () => {
    cluster = await TestCluster.start(2, { BATON_CHECKPOINT_MS: "20" })
    const [a, b] = cluster.nodes as [NonNullable<TestCluster["nodes"][0]>, NonNullable<TestCluster["nodes"][0]>]
    const { id } = await createSession({ url: a.url, game: "notes" })
    await play(a.url, id)
    const { sessions } = await getJson<{ sessions: { id: string; owner: string }[] }>(`${a.url}/cluster/registry`)
    const owner = sessions.find((s) => s.id === id)?.owner
    const [runs, other] = owner === a.id ? [a, b] : [b, a]
    const relayed = await getJson<Inspected>(`${other.url}/sessions/${id}/inspect`)
    expect(relayed.via).toEqual({ node: other.id, how: "owner", owner: runs.id })
    expect(relayed).toMatchObject({ node: runs.id, copy: "owner" })

    // The owner stops answering (SIGSTOP): the other node shows its replica's copy, and says so.
    const live = await getJson<Inspected>(`${runs.url}/sessions/${id}/inspect`)
    await waitUntil(async () => (await getJson<{ rev: number | null }>(`${other.url}/cluster/sessions/${id}`)).rev === live.record.rev, "the replica's document holds the newest checkpoint")
    runs.proc.kill("SIGSTOP")
    try {
      const copy = await getJson<Inspected>(`${other.url}/sessions/${id}/inspect`)
      expect(copy.via).toEqual({ node: other.id, how: "copy" })
      expect(copy).toMatchObject({ node: other.id, copy: "replica" })
      expect(copy.record).toEqual(live.record)
      expect(copy.players[0]?.connected).toBeNull()
      const fromCopy = (await getJson<ReplayFile>(`${other.url}/sessions/${id}/export`)) as ReplayFile
      expect(fromCopy.source).toEqual({ node: other.id, copy: "replica" })
      expect(Session.replay(notes, fromCopy, { check: true }).record).toEqual(fromCopy.end)
    } finally {
      runs.proc.kill("SIGCONT")
    }

    // A handoff continues the same document: the new owner's export replays the steps taken on the old one too.
    await runs.stop()
    const moved = await waitUntil(async () => {
      const got = await getJson<Inspected>(`${other.url}/sessions/${id}/inspect`).catch(() => undefined)
      return got?.via.how === "here" ? got : undefined
    }, "the session runs on the node that stayed")
    await join<typeof notes>({ url: other.url, session: id, player: "ada" }).then(async (ada) => {
      await ada.act("add", { text: "after the move" })
      ada.close()
    })
    const file = await waitUntil(async () => {
      const f = await getJson<ReplayFile>(`${other.url}/sessions/${id}/export`)
      return f.end.state && (f.end.state as { notes: { text: string }[] }).notes.some((n) => n.text === "after the move") ? f : undefined
    }, "the export holds the action taken after the move")
    expect(moved.epoch).toBeGreaterThan(live.epoch)
    expect(file.start.rev).toBe(1)
    // The nine actions of play() on the old owner, and the one on the new.
    expect(file.steps.filter((s) => s.k === "act").length).toBe(10)
    expect(Session.replay(notes, file, { check: true }).record).toEqual(file.end)
  })
})
