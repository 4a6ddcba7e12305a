import { describe, expect, test } from "bun:test"
import { Registry } from "../../framework/metrics/index.ts"
import { createLogger, LinkRefusals, sourceAddress } from "../../framework/node/index.ts"
import type { RefusalEvent } from "../../framework/protocol/index.ts"

function setup(opts: { maxSources?: number } = {}) {
  const events: RefusalEvent[] = []
  const timers: (() => void)[] = []
  const metrics = new Registry()
  const r = new LinkRefusals(createLogger({}, "silent"), (e) => events.push(e), metrics, { windowMs: 1_000, maxSources: opts.maxSources, setTimer: (fn: () => void) => timers.push(fn) })
  return { r, events, metrics, endWindow: () => timers.splice(0).forEach((fn) => fn()) }
}
const bad = { code: "bad-signature", reason: "bad signature" }

describe("refused cluster links", () => {
  test("one event at once per source, one summing up the rest when the window ends; every refusal counted by reason", () => {
    const { r, events, metrics, endWindow } = setup()
    for (let i = 0; i < 600; i++) r.refused("10.0.0.9", bad, "/cluster/control")
    r.refused("10.0.0.8", { code: "stale", reason: "old" }, "/cluster/sync")
    expect(events).toEqual([
      { t: "link-refused", from: "10.0.0.9", path: "/cluster/control", code: "bad-signature", reason: "bad signature" },
      { t: "link-refused", from: "10.0.0.8", path: "/cluster/sync", code: "stale", reason: "old" },
    ])
    endWindow()
    expect(events).toHaveLength(3)
    expect(events[2]).toEqual({ t: "link-refusals", from: "10.0.0.9", count: 599, reasons: { "bad-signature": 599 }, windowMs: 1_000 })
    const text = metrics.render()
    expect(text).toContain('baton_cluster_link_refusals_total{reason="bad-signature"} 600')
    expect(text).toContain('baton_cluster_link_refusals_total{reason="stale"} 1')
  })

  test("the sources tracked per window are bounded; the rest are summed as one", () => {
    const { r, events, endWindow } = setup({ maxSources: 5 })
    for (let i = 0; i < 1_000; i++) r.refused(`10.1.${i >> 8}.${i & 255}`, bad, "/cluster/control")
    expect(events).toHaveLength(5)
    endWindow()
    expect(events).toHaveLength(6)
    expect(events[5]).toMatchObject({ t: "link-refusals", from: "(other sources)", count: 995 })
  })

  test("a source that is not an address is not shown", () => {
    const { r, events } = setup()
    r.refused("<b>me</b>", bad, "/cluster/control")
    expect(events[0]?.from).toBe("(unknown)")
  })

  test("X-Forwarded-For counts only when trusted, and then only its last (the proxy's own) entry", () => {
    expect(sourceAddress("10.0.0.1", "6.6.6.6", false)).toBe("10.0.0.1")
    expect(sourceAddress("10.0.0.1", "6.6.6.6, 192.168.1.7", true)).toBe("192.168.1.7")
    expect(sourceAddress("10.0.0.1", "192.168.1.7, <script>", true)).toBe("10.0.0.1")
    expect(sourceAddress("10.0.0.1", null, true)).toBe("10.0.0.1")
  })
})
