import { describe, expect, test } from "bun:test"
import { BatonError } from "../../framework/node/index.ts"
import { addressKey, createGate } from "../../framework/server/create-gate.ts"

const req = (headers: Record<string, string> = {}) => new Request("http://node/sessions", { method: "POST", headers })
const body = { game: "g", options: undefined }

/** The refusal a gate throws, or "ok". */
async function outcome(p: Promise<void>): Promise<string> {
  try {
    await p
    return "ok"
  } catch (e) {
    if (!(e instanceof BatonError)) throw e
    return `${e.status} ${e.code}: ${e.message}`
  }
}

describe("the create gate", () => {
  test("a bucket per client that refills evenly: 2 a minute is one every 30 s", async () => {
    let now = 1_000_000
    const gate = createGate({ perMinute: 2, clock: () => now })
    expect(await outcome(gate(req(), "10.0.0.1", body))).toBe("ok")
    expect(await outcome(gate(req(), "10.0.0.1", body))).toBe("ok")
    expect(await outcome(gate(req(), "10.0.0.1", body))).toBe("429 rate_limited: too many sessions created by this client: at most 2 a minute; try again in 30 s")
    expect(await outcome(gate(req(), "10.0.0.2", body))).toBe("ok") // another client has its own bucket
    now += 20_000
    expect(await outcome(gate(req(), "10.0.0.1", body))).toMatch(/try again in 10 s/)
    now += 10_000
    expect(await outcome(gate(req(), "10.0.0.1", body))).toBe("ok")
  })

  test("a creator the hook names is counted as itself, from any address; a refusal is 401", async () => {
    const gate = createGate({ perMinute: 1, clock: () => 0, authorize: (r) => r.headers.get("x-player") })
    expect(await outcome(gate(req({ "x-player": "ada" }), "10.0.0.1", body))).toBe("ok")
    expect(await outcome(gate(req({ "x-player": "ada" }), "10.0.0.2", body))).toMatch(/^429 rate_limited/)
    expect(await outcome(gate(req({ "x-player": "bob" }), "10.0.0.1", body))).toBe("ok")
    expect(await outcome(gate(req(), "10.0.0.3", body))).toMatch(/^401 unauthorized: creating a session needs/)
  })

  test("0 a minute turns the limit off", async () => {
    const gate = createGate({ perMinute: 0, clock: () => 0 })
    for (let i = 0; i < 100; i++) expect(await outcome(gate(req(), "10.0.0.1", body))).toBe("ok")
  })
})

describe("anonymous creators are counted by address", () => {
  test("an IPv4 address (mapped or not) is itself; an IPv6 address counts as its /64", () => {
    expect(addressKey("10.1.2.3")).toBe("10.1.2.3")
    expect(addressKey("::ffff:10.1.2.3")).toBe("10.1.2.3")
    expect(addressKey("2001:db8:0:1::1")).toBe("2001:db8:0:1::/64")
    expect(addressKey("2001:db8:0:1:ffff:aaaa:bbbb:cccc")).toBe("2001:db8:0:1::/64")
    expect(addressKey("2001:0db8:0000:0001::9")).toBe("2001:db8:0:1::/64")
    expect(addressKey("::1")).toBe("0:0:0:0::/64")
    expect(addressKey(undefined)).toBe("unknown")
  })
})
