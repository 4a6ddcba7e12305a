import { describe, expect, test } from "bun:test"
import nodeCrypto from "node:crypto"
import { generateAutomergeUrl } from "@automerge/automerge-repo"
import { Random } from "../../framework/sim/random.ts"
import { Scheduler } from "../../framework/sim/scheduler.ts"
import { SimNetwork } from "../../framework/sim/network.ts"
import { SimDisk } from "../../framework/sim/disk.ts"
import { ledgerGame } from "../../framework/sim/game.ts"
import { World } from "../../framework/sim/world.ts"
import type { Link } from "../../framework/cluster/index.ts"

describe("the simulator's scheduler", () => {
  test("runs events in time order, ties in the order they were armed, on virtual time", async () => {
    const s = new Scheduler(1)
    const seen: string[] = []
    s.after(20, () => seen.push(`b@${s.now}`))
    s.after(10, () => seen.push(`a@${s.now}`))
    s.after(20, () => seen.push(`c@${s.now}`))
    await s.run(100)
    expect(seen).toEqual(["a@10", "b@20", "c@20"])
    expect(s.now).toBe(100)
  })

  test("a paused owner's events wait for resume; a dead owner's never run; intervals repeat until cancelled", async () => {
    const s = new Scheduler(1)
    const seen: string[] = []
    const clock = s.clockFor("n1")
    const h = clock.setInterval(() => seen.push(`tick@${s.now}`), 10)
    s.after(25, () => s.pause("n1"), "world")
    s.after(60, () => s.resume("n1"), "world")
    s.after(75, () => clock.clearInterval(h), "world")
    s.clockFor("n2").setTimeout(() => seen.push("never"), 50)
    s.after(40, () => s.kill("n2"), "world")
    await s.run(200)
    expect(seen).toEqual(["tick@10", "tick@20", "tick@60", "tick@70"])
  })

  test("promise continuations run before the next event (microtasks drain after each event)", async () => {
    const s = new Scheduler(1)
    const seen: string[] = []
    s.after(10, () => void Promise.resolve().then(() => seen.push("continuation")))
    s.after(10, () => seen.push("next event"))
    await s.run(20)
    expect(seen).toEqual(["continuation", "next event"])
  })

  test("install replaces the clock, timers and random sources, and the undo restores them", async () => {
    const s = new Scheduler("x")
    const realNow = Date.now
    const undo = s.install()
    let fired = -1
    try {
      setTimeout(() => (fired = s.now), 30)
      const a = Math.random()
      expect(crypto.randomUUID()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4/)
      await s.run(100)
      expect(fired).toBe(30)
      expect(Date.now()).toBe(Date.UTC(2026, 0, 1) + 100)
      const again = new Scheduler("x")
      expect(again.random.fork("globals").float()).toBe(a)
    } finally {
      undo()
    }
    expect(Date.now).toBe(realNow)
  })

  test("automerge-repo's document ids come from the seed, whatever ran before in the process (node:crypto, uuid's pool)", () => {
    const realFill = nodeCrypto.randomFillSync
    const ids = (seed: string, n: number) => {
      const undo = new Scheduler(seed).install()
      try {
        return Array.from({ length: n }, () => generateAutomergeUrl())
      } finally {
        undo()
      }
    }
    const first = ids("a", 3)
    ids("b", 5) // spends part of uuid's pool of random bytes
    generateAutomergeUrl() // and outside a run, from the real source
    expect(ids("a", 3)).toEqual(first)
    expect(ids("b", 3)).not.toEqual(first)
    expect(nodeCrypto.randomFillSync).toBe(realFill)
  })

  test("a seeded source gives the same numbers for the same seed, others for another", () => {
    const a = new Random("seed")
    const b = new Random("seed")
    const c = new Random("other")
    const xs = [a.next(), a.next(), a.next()]
    expect([b.next(), b.next(), b.next()]).toEqual(xs)
    expect(c.next()).not.toBe(xs[0])
  })
})

describe("the simulated network", () => {
  async function pair(s: Scheduler, net: SimNetwork) {
    const got: string[] = []
    let server: Link | undefined
    net.host("b.sim:1", {
      owner: "b",
      accept: (_url, link) => {
        server = link
        link.handlers = { message: (d) => got.push(`b:${d}`), close: (c) => got.push(`b closed ${c}`) }
        return undefined
      },
      fetch: async () => Response.json({ node: "b" }),
    })
    let client: Link | undefined
    s.after(0, () => void net.dial("a", "http://b.sim:1/x", { message: (d) => got.push(`a:${d}`), close: (c) => got.push(`a closed ${c}`) }, 1_000).then((l) => (client = l)), "a")
    await s.run(s.now + 100)
    return { got, client: client as Link, server: server as Link }
  }

  test("frames arrive in order; a cut holds them until it heals; a one-way cut leaves the other way open", async () => {
    const s = new Scheduler(2)
    const net = new SimNetwork(s, new Random(2), { baseMs: 1, tailMs: 5, resetChance: 0 })
    const { got, client, server } = await pair(s, net)
    for (const n of [1, 2, 3]) client.send(String(n))
    await s.run(s.now + 100)
    expect(got).toEqual(["b:1", "b:2", "b:3"])
    net.cut("a", "b")
    client.send("held")
    server.send("back")
    await s.run(s.now + 1_000)
    expect(got).toEqual(["b:1", "b:2", "b:3", "a:back"])
    net.heal()
    await s.run(s.now + 1_000)
    expect(got.at(-1)).toBe("b:held")
  })

  test("a dial across a cut times out; to a crashed host it is refused; a crash closes the other end", async () => {
    const s = new Scheduler(3)
    const net = new SimNetwork(s, new Random(3), { baseMs: 1, tailMs: 1, resetChance: 0 })
    const { got } = await pair(s, net)
    net.crashed("b")
    await s.run(s.now + 100)
    expect(got).toContain("a closed 1006")
    net.cut("a", "b")
    const errors: string[] = []
    const dial = () => s.after(0, () => void net.dial("a", "http://b.sim:1/x", { message() {}, close() {} }, 500).catch((e) => errors.push((e as Error).message)), "a")
    dial()
    await s.run(s.now + 1_000)
    expect(errors).toEqual(["cannot reach http://b.sim:1/x (timed out)"])
    net.unhost("b.sim:1")
    dial()
    await s.run(s.now + 1_000)
    expect(errors[1]).toBe("cannot reach http://b.sim:1/x (connection refused)")
  })
})

describe("the simulated disk", () => {
  test("operations take 0-2 ms, 50-500 ms while the disk is slow, complete in the order issued, and wait while their process is paused", async () => {
    const s = new Scheduler(4)
    const disk = new SimDisk(s, new Random(4), "n1")
    const done: string[] = []
    const at = (label: string) => () => done.push(`${label}@${Math.round(s.now)}`)
    s.after(0, () => {
      void disk.save(["doc", "a"], new Uint8Array([1])).then(at("save a"))
      void disk.load(["doc", "a"]).then((d) => done.push(`load a=${d?.[0]}@${Math.round(s.now)}`))
    }, "n1")
    await s.run(10)
    expect(done).toEqual([expect.stringMatching(/^save a@[0-2]$/), expect.stringMatching(/^load a=1@[0-4]$/)])
    expect(disk.stats.worstMs).toBeLessThanOrEqual(4)

    disk.slowUntil = s.now + 5_000
    done.length = 0
    const from = s.now
    s.after(0, () => {
      void disk.save(["doc", "b"], new Uint8Array([2])).then(at("save b"))
      void disk.loadRange(["doc"]).then((cs) => done.push(`range ${cs.map((c) => c.key[1]).join("")}@${Math.round(s.now)}`))
      void disk.remove(["doc", "a"]).then(at("remove a"))
    }, "n1")
    await s.run(from + 2_000)
    expect(done.map((d) => d.split("@")[0])).toEqual(["save b", "range ab", "remove a"])
    const times = done.map((d) => Number(d.split("@")[1]) - from)
    expect(times[0]).toBeGreaterThanOrEqual(50)
    expect(times[0]).toBeLessThanOrEqual(500)
    expect(times).toEqual([...times].sort((a, b) => a - b))

    // Fast again once the fault is over; a paused process's disk answers only after it resumes.
    await s.run(from + 5_001)
    done.length = 0
    s.after(0, () => void disk.load(["doc", "b"]).then((d) => done.push(`load b=${d?.[0]}@${Math.round(s.now)}`)), "n1")
    s.after(0, () => s.pause("n1"), "world")
    s.after(300, () => s.resume("n1"), "world")
    await s.run(s.now + 1_000)
    expect(done).toEqual([`load b=2@${from + 5_001 + 300}`])
  })

  test("a node's documents go through its disk: a slow disk holds up the store's flush by its latency", async () => {
    const s = new Scheduler(5)
    const undo = s.install()
    try {
      const world = new World(s, new Random(5), { heartbeatMs: 500, failureMs: 3_000, replicas: 2, secret: "sim-secret-0123456789abcdef", disk: { normalMs: [0, 2], slowMs: [200, 200] } }, (v) => [ledgerGame(v)])
      const p = world.start("n1", 1)
      await s.run(1_000)
      world.createSession()
      await s.run(2_000)
      expect(world.sessions.length).toBe(1)
      expect(p.disk?.stats.ops).toBeGreaterThan(0)
      const flush = async () => {
        const t0 = s.now
        let t1: number | undefined
        s.after(0, () => void p.node?.store.flush().then(() => (t1 = s.now)), p.owner)
        await s.run(s.now + 5_000, { stop: () => t1 !== undefined })
        return (t1 as number) - t0
      }
      // A new session: its document and the registry's change are saved; the flush waits for both.
      world.createSession()
      expect(await flush()).toBeLessThan(20)
      world.slowDisk(p, 10_000)
      expect(world.trace.at(-1)).toMatch(/n1 disk slow for 10000 ms/)
      world.createSession()
      expect(await flush()).toBeGreaterThanOrEqual(200)
      expect(world.sessions.length).toBe(3)
    } finally {
      undo()
    }
  })
})
