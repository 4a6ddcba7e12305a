import { describe, expect, test } from "bun:test"
import { createLogger } from "../../framework/log/index.ts"
import { Observability } from "../../framework/node/observability.ts"

describe("the operators' timeline", () => {
  test("events a player can cause at will never push the cluster's events out", () => {
    const seen = new Observability("n-test")
    const log = seen.tap(createLogger({}, "silent"))
    log.info("node-up", { member: "n-peer" })
    log.info("drained", { sessions: 3 })
    // A player joining and leaving in a loop, and frames that make game code fail.
    for (let i = 0; i < 2_000; i++) {
      log.info("player joined", { session: "s1", player: "mallory" })
      log.info("session created", { session: `s${i}` })
      log.error("handler failed", { site: "player-frame" })
    }
    const events = seen.timeline()
    expect(events.map((e) => e.msg)).toContain("node-up")
    expect(events.map((e) => e.msg)).toContain("drained")
    // Theirs are kept too, bounded: the latest ones.
    const theirs = events.filter((e) => e.msg === "player joined" || e.msg === "session created" || e.msg === "handler failed")
    expect(theirs.length).toBeGreaterThan(0)
    expect(theirs.length).toBeLessThanOrEqual(300)
    expect(events.at(-1)?.msg).toBe("handler failed")
  })
})
