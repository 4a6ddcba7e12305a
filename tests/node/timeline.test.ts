import { describe, expect, test } from "bun:test"
import type { NodeEvent, NodeEventBody } from "../../framework/node/index.ts"
import { Observability } from "../../framework/node/observability.ts"

/** The timeline fed events as a node raises them, one ms apart. */
function timeline() {
  const seen = new Observability()
  let time = 1_000
  const record = (body: NodeEventBody) => seen.record({ ...body, time: time++, node: "n-test" } as NodeEvent)
  return { seen, record }
}

describe("the operators' timeline", () => {
  test("is built from the node's events, in the words and JSON shape the dashboard shows", () => {
    const { seen, record } = timeline()
    record({ t: "member-up", member: "n-peer", url: "http://10.0.0.2:3000", version: "2", status: "ready" })
    record({ t: "session-adopted", session: "s1", game: "counter", epoch: 3, via: "handoff from n-peer", fromVersion: 1, toVersion: 1 })
    record({ t: "peers-discovered", name: "baton.local", addresses: ["10.0.0.2"] })
    record({ t: "registry-rebuilt", why: "missing", setAside: [], sessions: 2, unreadable: [] })
    expect(seen.timeline()).toEqual([
      { t: "member-up", member: "n-peer", url: "http://10.0.0.2:3000", version: "2", status: "ready", time: 1_000, node: "n-test", level: "info", msg: "node-up" },
      { t: "session-adopted", session: "s1", game: "counter", epoch: 3, via: "handoff from n-peer", fromVersion: 1, toVersion: 1, time: 1_001, node: "n-test", level: "info", msg: "session adopted" },
      // peers-discovered is not shown.
      { t: "registry-rebuilt", why: "missing", setAside: [], sessions: 2, unreadable: [], time: 1_003, node: "n-test", level: "error", msg: "registry missing: rebuilt from the session documents" },
    ])
    expect(seen.timeline(1_001).map((e) => e.t)).toEqual(["registry-rebuilt"])
  })

  test("events a player can cause at will never push the cluster's events out", () => {
    const { seen, record } = timeline()
    record({ t: "member-up", member: "n-peer", url: "http://10.0.0.2:3000", version: "1", status: "ready" })
    record({ t: "drained", sessions: 3, moved: 3, failed: 0, ms: 40, pauseP50: 5, pauseP99: 9 })
    // A player joining and leaving in a loop, and frames that make game code fail.
    for (let i = 0; i < 2_000; i++) {
      record({ t: "player-joined", session: "s1", player: "mallory", seat: 0 })
      record({ t: "session-created", session: `s${i}`, game: "counter" })
      record({ t: "handler-failed", site: "player-frame", errorId: `e-${i}`, error: "boom" })
    }
    const events = seen.timeline()
    expect(events.map((e) => e.msg)).toContain("node-up")
    expect(events.map((e) => e.msg)).toContain("drained")
    // Theirs are kept too, bounded: the latest ones.
    const theirs = events.filter((e) => e.t === "player-joined" || e.t === "session-created" || e.t === "handler-failed")
    expect(theirs.length).toBeGreaterThan(0)
    expect(theirs.length).toBeLessThanOrEqual(300)
    expect(events.at(-1)).toMatchObject({ t: "handler-failed", level: "error", msg: "handler failed", errorId: "e-1999" })
  })

  test("refused links, which anyone on the network can cause, have a short list of their own", () => {
    const { seen, record } = timeline()
    record({ t: "failover", sessions: 2, ms: 800, from: ["n-gone"] })
    for (let i = 0; i < 1_000; i++) record({ t: "link-refused", from: `10.9.0.${i % 250}`, path: "/cluster/control", code: "bad-signature", reason: "bad signature" })
    const events = seen.timeline()
    expect(events.filter((e) => e.t === "link-refused")).toHaveLength(50)
    expect(events[0]).toMatchObject({ t: "failover", msg: "failover", from: ["n-gone"] })
  })
})
