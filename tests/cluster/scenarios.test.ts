import { describe, expect, test } from "bun:test"
import { meshNeighbours } from "../../framework/cluster/index.ts"
import { ledgerGame } from "../../framework/sim/game.ts"
import type { SimProcess } from "../../framework/sim/world.ts"
import { simulate } from "../support/sim.ts"

/**
 * The cluster's behaviours as scenarios on the simulator (real nodes on
 * virtual time and a simulated network): what the membership, failover,
 * fencing, drain, replication and partition tests proved with real
 * processes and real waits, here exact and independent of the machine's
 * load. Bounds are in virtual time. The real-process tests that remain
 * prove what only processes show (signals, sockets, TLS, DNS, the disk,
 * iptables partitions, the browser).
 */
describe("membership", () => {
  test("three nodes see each other; a fourth listing one peer learns every other from it", async () => {
    await simulate("membership-join", async (sim) => {
      await sim.startCluster(["a", "b", "c"])
      sim.world.start("d", 1, ["a"])
      const ms = await sim.until(() => sim.converged(), 5_000, "d and every other node see each other")
      expect(ms).toBeLessThan(2_000)
      for (const x of ["a", "b", "c"]) expect(sim.sees("d", x) && sim.sees(x, "d")).toBe(true)
    })
  })

  test("a node that stops gracefully is down for the others at once (it says goodbye)", async () => {
    await simulate("membership-bye", async (sim) => {
      await sim.startCluster(["a", "b", "c"])
      const c = sim.proc("c").node?.id as string
      void sim.world.stop(sim.proc("c"))
      const down = (x: string) => sim.proc(x).node?.role?.cluster.member(c)?.up === false
      const ms = await sim.until(() => sim.proc("c").state === "gone" && down("a") && down("b"), 5_000, "c is down for a and b")
      expect(ms).toBeLessThan(1_000)
      // Gone by its own word: no longer counted for the majority, no takeover needed for its sessions.
      expect(sim.proc("a").node?.role?.cluster.member(c)?.voter).toBe(false)
    })
  })

  test("of two nodes, one that stops right after waking from a freeze (its link closed by the other) still says goodbye, and the other keeps a majority", async () => {
    // Woken with no control link (the other node had marked it down and closed it), it had nowhere to send its
    // goodbye: the other counted it as a crashed voter, and one of two is no majority (every action waited).
    await simulate("bye-without-link", async (sim) => {
      const [a, b] = (await sim.startCluster(["a", "b"])) as [SimProcess, SimProcess]
      const bId = b.node?.id as string
      const cluster = () => a.node?.role?.cluster
      sim.sched.pause(b.owner)
      await sim.until(() => cluster()?.member(bId)?.up === false, 4 * sim.failureMs, "a marks the frozen b down")
      sim.sched.resume(b.owner)
      await sim.stop("b")
      await sim.run(2 * sim.failureMs)
      expect(cluster()?.member(bId)?.voter).toBe(false)
      expect(cluster()?.quorum().majority).toBe(true)
    })
  })

  test("a crashed node is down at once (its links reset); one that loses power within the failure timeout", async () => {
    await simulate("membership-crash", async (sim) => {
      await sim.startCluster(["a", "b", "c", "d"])
      sim.world.crash(sim.proc("c"))
      expect(await sim.until(() => !sim.sees("a", "c") && !sim.sees("b", "c"), 5_000, "crashed c is down")).toBeLessThan(1_000)
      sim.world.crash(sim.proc("d"), true)
      const silent = await sim.until(() => !sim.sees("a", "d") && !sim.sees("b", "d"), 3 * sim.failureMs, "powered-off d is down")
      // Not before the failure timeout (a busy node is not dead), not long after it.
      expect(silent).toBeGreaterThanOrEqual(sim.failureMs - sim.heartbeatMs)
      expect(silent).toBeLessThan(sim.failureMs + 2 * sim.heartbeatMs + 1_000)
    })
  })

  test("a node restarted at the same address (a new id) is dialled under its new id and rejoins", async () => {
    await simulate("membership-restart", async (sim) => {
      await sim.startCluster(["a", "b", "c"])
      const old = sim.proc("c").node?.id
      sim.world.crash(sim.proc("c"))
      sim.world.start("c", 1)
      await sim.until(() => sim.converged(), 10_000, "the new c is seen by all")
      expect(sim.proc("c").node?.id).not.toBe(old)
    })
  })
})

describe("membership when every node is replaced", () => {
  test("nodes powered off and restarted (new ids, same addresses) one after another, faster than dead members are dropped: the cluster has a majority again", async () => {
    await simulate("membership-replaced", async (sim) => {
      await sim.startCluster(["a", "b", "c"])
      const session = await sim.createSession("a")
      await sim.play(session, ["p"], 40_000)
      await sim.run(1_000)
      // Each power-off comes before the previous dead member could be dropped from the majority (after
      // twice the failure timeout): without the rule "one process per address", six voters, three alive.
      // The spacing of seed 9244: each replacement up a little after its node was taken for dead, the
      // next power-off a few seconds later.
      for (const [x, downMs, upMs] of [["b", 2_800, 2_900], ["c", 1_200, 2_200], ["a", 4_500, 0]] as const) {
        sim.world.crash(sim.proc(x), true)
        await sim.run(downMs)
        sim.world.start(x, 1)
        await sim.run(upMs)
      }
      const ready = () => sim.world.live().every((p) => p.node?.role?.cluster.quorum().majority === true && p.node.role.cluster.hasLease())
      await sim.until(ready, 4 * sim.failureMs, "every node is in a majority and holds a lease")
      // The dead members still counted are dropped by the majority's agreement (or known replaced at once).
      await sim.until(() => sim.world.live().every((p) => p.node?.role?.cluster.quorum().voters.length === 3), 4 * sim.failureMs, "three voters, all alive")
      await sim.run(10_000)
      expect(sim.lostOrDoubled(session)).toEqual([])
    })
  })
})

describe("failover and fencing", () => {
  test("the owner crashes under load: its sessions are taken over, no acknowledged action is lost or applied twice", async () => {
    await simulate("failover-crash", async (sim) => {
      await sim.startCluster(["a", "b", "c"])
      const sessions = [await sim.createSession("a"), await sim.createSession("b"), await sim.createSession("c")]
      for (const [i, s] of sessions.entries()) await sim.play(s, [`p${i}a`, `p${i}b`], 20_000)
      await sim.run(3_000)
      const victim = sim.owner(sessions[0] as string) as NonNullable<ReturnType<typeof sim.owner>>
      sim.world.crash(victim)
      await sim.until(() => sessions.every((s) => sim.owner(s) !== undefined), 3 * sim.failureMs, "every session runs on a live node")
      await sim.run(25_000)
      for (const s of sessions) {
        expect(sim.lostOrDoubled(s)).toEqual([])
        expect(sim.acked(s)).toBeGreaterThan(20)
      }
      expect(sim.world.actions.filter((a) => a.sentAt < 20_000 && a.ackedAt === undefined && !a.failed)).toEqual([])
    })
  })

  test("every copy of a session dies (its owner and its replica, no data dir): its players hear session_lost within 2 s", async () => {
    await simulate("lost-session", async (sim) => {
      const [a, b, c] = await sim.startCluster(["a", "b", "c"])
      // A session on a whose only other copy is on b: c holds none.
      let session: string | undefined
      for (let i = 0; i < 20 && !session; i++) {
        const s = await sim.createSession("a")
        await sim.run(200)
        if (sim.owner(s) === a && b?.node?.store.replicaCopy(s) && !c?.node?.store.replicaCopy(s) && !c?.node?.role?.replicator.shadow(s)) session = s
      }
      expect(session).toBeDefined()
      const id = session as string
      sim.world.bot("r", id, 200, sim.sched.now + 20_000, sim.world.url(c as NonNullable<typeof c>), { direct: false })
      await sim.until(() => sim.bot("r")?.status === "open", 5_000, "the relayed player joins")
      await sim.run(1_000)
      const at = sim.sched.now
      sim.crash("a")
      sim.crash("b")
      const told = await sim.until(() => sim.bot("r")?.status === "closed", 10_000, "the player is let go")
      expect(told).toBeLessThan(2_000)
      const failed = sim.world.actions.filter((x) => x.session === id && x.failed)
      expect(failed.length).toBeGreaterThan(0)
      for (const x of failed) expect(x.failed).toContain(`session ${id} is lost`)
      // The registry ends it: nobody waits to run it again.
      expect(c?.node?.store.entry(id)?.status).toBe("ended")
      expect(sim.sched.now - at).toBeLessThan(2_000)
    })
  })

  test.each(["frozen", "cut off"])("a relaying node %s for twice the failure timeout: rejoined, its relayed player is answered again within a second, and was told", async (fault) => {
    await simulate(`relay-node-${fault}`, async (sim) => {
      const [a, , c] = (await sim.startCluster(["a", "b", "c"])) as [SimProcess, SimProcess, SimProcess]
      // The SDK would give up a frozen node within 4 s while an action waits (next test): with its
      // liveness check off the player stays, to see what the node does with its relay once it wakes.
      const { session, notices } = await sim.relayedPlayer(a, c, "r", 40_000, fault === "frozen" ? 0 : undefined)
      if (fault === "frozen") sim.sched.pause(c?.owner as string)
      else sim.isolate(c as NonNullable<typeof c>)
      await sim.run(2 * sim.failureMs)
      // The others dropped it meanwhile (and its relays with it).
      expect(sim.sees("a", "c")).toBe(false)
      if (fault === "frozen") sim.sched.resume(c?.owner as string)
      else sim.world.net.heal()
      // From its rejoining: the others see it up again.
      await sim.until(() => sim.sees("a", "c") && sim.sees("c", "a"), 10_000, "c rejoins")
      const woke = sim.sched.now
      const answered = () => sim.world.actions.some((x) => x.id.startsWith("r-") && x.sentAt >= woke && x.ackedAt !== undefined)
      const ms = await sim.until(answered, 10_000, "the relayed player is answered again")
      expect(ms).toBeLessThan(1_000)
      // Told while it waited, and told it is over.
      expect(notices.some((n) => n.code === "owner_unreachable")).toBe(true)
      await sim.run(1_000)
      expect(notices.at(-1)?.code).toBe("resolved")
      expect(sim.lostOrDoubled(session)).toEqual([])
    })
  })

  test("a player acting through a relaying node that froze moves to another node within 4 s, nothing lost", async () => {
    await simulate("relay-node-frozen-sdk", async (sim) => {
      const [a, , c] = (await sim.startCluster(["a", "b", "c"])) as [SimProcess, SimProcess, SimProcess]
      // A session of a's whose replica is b: a frozen replica would hold a's acks back until it is
      // declared down (the failure timeout), whatever the player does.
      let session: string | undefined
      for (let i = 0; i < 20 && !session; i++) {
        const s = await sim.createSession("a")
        if (sim.owner(s) === a && !a.node?.role?.replicator.liveReplicas(s).includes(c.node?.id as string)) session = s
      }
      if (!session) throw new Error("no session of a's replicated on b in 20 tries")
      sim.world.bot("r", session, 200, sim.now + 30_000, sim.world.url(c), { direct: false })
      await sim.until(() => sim.bot("r")?.status === "open", 5_000, "the relayed player joins")
      await sim.run(1_000)
      sim.sched.pause(c.owner)
      const frozeAt = sim.sched.now
      const answered = () => sim.world.actions.some((x) => x.id.startsWith("r-") && x.sentAt >= frozeAt && x.ackedAt !== undefined)
      const ms = await sim.until(answered, 10_000, "the player is answered through another node")
      expect(ms).toBeLessThan(4_000)
      expect(sim.world.actions.filter((x) => x.id.startsWith("r-") && x.sentAt < frozeAt).every((x) => x.ackedAt !== undefined)).toBe(true)
      sim.sched.resume(c.owner)
      await sim.run(5_000)
      expect(sim.lostOrDoubled(session)).toEqual([])
    })
  })

  test("a player relayed to an owner that froze stays on its relay (the relaying node answers its pings) and is answered once the session is taken over", async () => {
    await simulate("relayed-owner-frozen", async (sim) => {
      const [a, , c] = (await sim.startCluster(["a", "b", "c"])) as [SimProcess, SimProcess, SimProcess]
      const { session } = await sim.relayedPlayer(a, c, "r", 30_000)
      const statuses: string[] = []
      sim.bot("r")?.onStatus((st) => void statuses.push(st))
      sim.sched.pause(a.owner)
      const frozeAt = sim.sched.now
      const answered = () => sim.world.actions.some((x) => x.id.startsWith("r-") && x.sentAt >= frozeAt && x.ackedAt !== undefined)
      await sim.until(answered, 15_000, "the player is answered by the session's new owner")
      // Its relay works: giving it up would only have sent it looking for the session elsewhere.
      expect(statuses).toEqual([])
      sim.sched.resume(a.owner)
      await sim.run(5_000)
      expect(sim.lostOrDoubled(session)).toEqual([])
    })
  })

  test("an owner frozen past the failure timeout is taken over; woken, it stops running the session and is back in every view", async () => {
    await simulate("fencing-pause", async (sim) => {
      await sim.startCluster(["a", "b", "c"])
      const session = await sim.createSession("a")
      await sim.play(session, ["p1", "p2"], 20_000)
      await sim.run(2_000)
      const owner = sim.owner(session) as NonNullable<ReturnType<typeof sim.owner>>
      sim.sched.pause(owner.owner)
      await sim.until(() => sim.world.live().some((p) => p !== owner && p.node?.hasSession(session)), 4 * sim.failureMs, "another node takes it over")
      sim.sched.resume(owner.owner)
      const back = await sim.until(() => sim.converged() && owner.node?.hasSession(session) === false, 10_000, "the woken owner lets go and is seen by all")
      expect(back).toBeLessThan(2_000)
      await sim.run(20_000)
      expect(sim.lostOrDoubled(session)).toEqual([])
    })
  })
})

describe("drain and replication", () => {
  test("a draining node hands every session over; players keep playing, nothing lost, its replicas keep their copies", async () => {
    await simulate("drain", async (sim) => {
      await sim.startCluster(["a", "b", "c"])
      const sessions = [await sim.createSession("a"), await sim.createSession("a"), await sim.createSession("a")]
      for (const [i, s] of sessions.entries()) await sim.play(s, [`p${i}`], 15_000)
      await sim.run(2_000)
      const owner = sim.owner(sessions[0] as string) as NonNullable<ReturnType<typeof sim.owner>>
      await sim.stop(owner.label)
      expect(sessions.every((s) => sim.owner(s) !== owner)).toBe(true)
      await sim.run(20_000)
      for (const s of sessions) expect(sim.lostOrDoubled(s)).toEqual([])
      // The drain paused each moved session only briefly: no action waited long.
      const waits = sim.world.actions.filter((a) => a.ackedAt !== undefined).map((a) => (a.ackedAt as number) - a.sentAt)
      expect(Math.max(...waits)).toBeLessThan(1_000)
    })
  })

  test("a drain of a few sessions moves them one after another: each is released before the next is handed over", async () => {
    await simulate("drain-one-at-a-time", async (sim) => {
      await sim.startCluster(["a", "b", "c"])
      const sessions: string[] = []
      for (let i = 0; i < 30 && sessions.length < 4; i++) {
        const s = await sim.createSession("a")
        if (sim.owner(s)?.label === "a") sessions.push(s)
      }
      for (const [i, s] of sessions.entries()) await sim.play(s, [`p${i}`], 10_000)
      await sim.run(1_000)
      const from = sim.world.log.length
      await sim.stop("a")
      // Adoptions (on the targets) and releases (on the draining node), in the order they happened.
      const moves = sim.world.log
        .slice(from)
        .filter((l) => l.includes("session adopted") || (l.includes(" a info session released") && l.includes("handed off")))
        .map((l) => (l.includes("session adopted") ? "adopted" : "released"))
      expect(sessions.length).toBe(4)
      expect(moves.length).toBe(2 * sessions.length)
      expect(moves).toEqual(sessions.flatMap(() => ["adopted", "released"]))
      await sim.run(5_000)
      for (const s of sessions) expect(sim.lostOrDoubled(s)).toEqual([])
    })
  })

  test("the whole cluster stopping at once (Ctrl-C on bun run dev) is not a deploy: no node takes another's sessions, nothing is reported failed", async () => {
    await simulate("stop-everything", async (sim) => {
      await sim.startCluster(["a", "b", "c"])
      for (let i = 0; i < 9; i++) await sim.createSession(["a", "b", "c"][i % 3] as string)
      await sim.run(1_000)
      const from = sim.world.log.length
      await Promise.all(["a", "b", "c"].map((l) => sim.stop(l)))
      const during = sim.world.log.slice(from)
      // Handing a session to a node that is leaving too would only move it again (or lose it with that node).
      expect(during.filter((l) => l.includes("session adopted"))).toEqual([])
      expect(during.filter((l) => l.includes("ERROR"))).toEqual([])
      // A node declining because it is leaving too is no warning either.
      expect(during.filter((l) => l.includes(" warn "))).toEqual([])
    })
  })

  test("the whole cluster stopping, one node a moment before the other (it moved nothing here): the last one does not wait for a peer", async () => {
    // `bun run dev`'s Ctrl-C, now and then: the node without sessions drained and left before the other
    // began its drain, which then found no peer and waited the whole grace (25 s) for one.
    await simulate("stop-everything-staggered", async (sim) => {
      const [a] = await sim.startCluster(["a"])
      for (let i = 0; i < 3; i++) await sim.createSession("a")
      sim.world.start("b", 1)
      await sim.until(() => sim.converged(), 10_000, "b joins")
      await sim.stop("b") // it runs nothing
      await sim.until(() => !sim.sees("a", "b"), 1_000, "a hears b's goodbye")
      expect(a?.node?.sessionCount).toBe(3)
      const from = sim.now
      await sim.stop("a", 30_000)
      expect(sim.now - from).toBeLessThan(5_000)
      expect(sim.world.log.some((l) => l.includes("waiting for a peer"))).toBe(false)
    })
  })

  test("a stop-first deploy (a node stopped right after another handed it its sessions): it waits for the next node and hands everything on", async () => {
    await simulate("stop-first-deploy", async (sim) => {
      const [a] = await sim.startCluster(["a", "b"])
      const sessions: string[] = []
      for (let i = 0; i < 4; i++) sessions.push(await sim.createSession(i % 2 ? "a" : "b"))
      for (const [i, s] of sessions.entries()) await sim.play(s, [`p${i}`], 30_000, 300)
      await sim.stop("b") // hands its sessions to a
      await sim.until(() => !sim.sees("a", "b"), 1_000, "a hears b's goodbye")
      expect(a?.node?.sessionCount).toBe(4)
      const stopping = sim.stop("a", 30_000)
      await sim.run(2_000)
      expect(a?.state).toBe("stopping") // waiting for a peer: without a data dir, leaving now would lose every session
      const c = sim.world.start("c", 1)
      await stopping
      expect(sessions.every((s) => sim.owner(s) === c)).toBe(true)
      await sim.run(3_000)
      for (const s of sessions) expect(sim.lostOrDoubled(s)).toEqual([])
    })
  })

  test("the registry converges on every node; a session's document reaches its replicas and not the others", async () => {
    await simulate("replication", async (sim) => {
      await sim.startCluster(["a", "b", "c", "d"])
      const session = await sim.createSession("b")
      await sim.play(session, ["p"], 3_000)
      await sim.run(5_000)
      const live = sim.world.live()
      for (const p of live) expect(p.node?.store.entry(session)?.status).toBe("open")
      const set = live[0]?.node?.role?.replicaSet(session) ?? []
      expect(set).toHaveLength(2)
      for (const p of live) {
        const view = p.node?.role?.inspect(session)
        if (set.includes(p.node?.id as string)) expect(view?.holds).toBe(true)
        else expect(view?.holds).toBe(false)
      }
    })
  })
})

describe("the registry past eight nodes", () => {
  test("it travels over a sparse mesh: every node holds every entry, each hears it from a few peers only, and a crash changes neither", async () => {
    await simulate("registry-mesh", async (sim) => {
      const labels = Array.from({ length: 12 }, (_, i) => `n${i + 1}`)
      await sim.startCluster(labels)
      // Who sent each node registry sync messages, from here on.
      const heardFrom = new Map<string, Set<string>>()
      for (const p of sim.world.live()) {
        const node = p.node as NonNullable<typeof p.node>
        const registry = node.store.registryHandle.documentId
        const senders = new Set<string>()
        heardFrom.set(node.id, senders)
        node.store.repo.networkSubsystem.on("message", (m) => {
          if (m.type === "sync" && m.documentId === registry) senders.add(m.senderId)
        })
      }
      const everywhere = (ids: string[]) => () => sim.world.live().every((p) => ids.every((s) => p.node?.store.entry(s)?.owner === sim.owner(s)?.node?.id))
      const sessions: string[] = []
      for (const l of labels) sessions.push(await sim.createSession(l))
      const spread = await sim.until(everywhere(sessions), 5_000, "every node has every entry")
      expect(spread).toBeLessThan(1_000)
      const ids = sim.world.live().map((p) => p.node?.id as string)
      for (const p of sim.world.live()) {
        const id = p.node?.id as string
        const mesh = meshNeighbours(id, ids)
        expect(mesh.size).toBeLessThan(ids.length - 1)
        for (const sender of heardFrom.get(id) ?? []) expect(mesh.has(sender)).toBe(true)
      }
      // A node crashes: its sessions move, and every node learns where, over what is left of the mesh.
      sim.crash("n3")
      await sim.until(() => sessions.every((s) => sim.owner(s) !== undefined), 3 * sim.failureMs, "every session runs on a live node")
      for (const l of labels.slice(0, 4)) if (l !== "n3") sessions.push(await sim.createSession(l))
      await sim.until(everywhere(sessions), 5_000, "every node has every entry after the crash")
    })
  })
})

describe("partitions", () => {
  test("a node cut off from the others (both ways): the majority takes its sessions, it acknowledges nothing more, players are told", async () => {
    await simulate("partition-2-1", async (sim) => {
      const [a, b, c] = await sim.startCluster(["a", "b", "c"])
      const sessions = [await sim.createSession("a"), await sim.createSession("b"), await sim.createSession("c")]
      for (const [i, s] of sessions.entries()) await sim.play(s, [`p${i}x`, `p${i}y`], 25_000)
      await sim.run(2_000)
      sim.isolate(c as SimProcess, [a, b] as SimProcess[])
      await sim.run(8_000)
      // The minority applies nothing once its lease is over; a majority node runs each session.
      expect(c?.node?.role?.cluster.hasLease()).toBe(false)
      for (const s of sessions) expect(c?.node?.acting(s)).toBe(false)
      sim.world.net.heal()
      await sim.until(() => sim.converged() && sessions.every((s) => sim.world.live().filter((p) => p.node?.hasSession(s)).length === 1), 10_000, "healed: one owner each")
      await sim.run(20_000)
      for (const s of sessions) expect(sim.lostOrDoubled(s)).toEqual([])
    })
  })

  test("a one-way cut from a relaying node to the owner: its relayed player is told within a second, though that node still hears the owner", async () => {
    // With 5 s faults the real-process partition test once found a relayed player never told: the relaying
    // node called nobody silent (the owner's heartbeats still arrived), and its frames went nowhere.
    await simulate("relay-one-way-notice", async (sim) => {
      const [a, , c] = (await sim.startCluster(["a", "b", "c"])) as [SimProcess, SimProcess, SimProcess]
      const { session, notices } = await sim.relayedPlayer(a, c, "r", 30_000)
      const cutAt = sim.sched.now
      sim.world.net.cut(c?.owner as string, a?.owner as string)
      await sim.run(2_000) // under the failure timeout: nobody is called down yet
      expect(sim.sees(c?.label as string, a?.label as string)).toBe(true)
      expect(notices[0]?.code).toBe("owner_unreachable")
      // Within a second of its first action that went unanswered (the bot acts at random times).
      const firstSent = Math.min(...sim.world.actions.filter((x) => x.id.startsWith("r-") && x.sentAt >= cutAt).map((x) => x.sentAt))
      expect((notices[0]?.at ?? Number.POSITIVE_INFINITY) - firstSent).toBeLessThan(1_000)
      sim.world.net.heal()
      await sim.until(() => notices.at(-1)?.code === "resolved", 10_000, "the player is told it is answered again")
      await sim.run(3_000)
      expect(sim.lostOrDoubled(session)).toEqual([])
    })
  })

  test("a one-way cut (a's frames do not reach b): no acknowledged action lost, one owner per session after it heals", async () => {
    await simulate("partition-one-way", async (sim) => {
      const [a, b] = await sim.startCluster(["a", "b", "c"])
      const sessions = [await sim.createSession("a"), await sim.createSession("b")]
      for (const [i, s] of sessions.entries()) await sim.play(s, [`q${i}`], 20_000)
      await sim.run(2_000)
      sim.world.net.cut(a?.owner as string, b?.owner as string)
      await sim.run(8_000)
      sim.world.net.heal()
      await sim.until(() => sim.converged(), 10_000, "healed")
      await sim.run(15_000)
      for (const s of sessions) expect(sim.lostOrDoubled(s)).toEqual([])
    })
  })
})

describe("durability and versions", () => {
  test('"replicated" with no replica left: actions wait and the players are told why; all land, once each, when a replica is back', async () => {
    await simulate("no-replica", async (sim) => {
      await sim.startCluster(["a", "b"])
      const session = await sim.createSession("a")
      const [p] = await sim.play(session, ["p"], 30_000, 300)
      await sim.run(2_000)
      const other = sim.world.live().find((x) => !x.node?.hasSession(session)) as NonNullable<ReturnType<typeof sim.owner>>
      sim.world.crash(other)
      const cut = sim.now
      await sim.run(6_000)
      // Nothing acknowledged after the lease ran out (a takeover could be under way elsewhere); the player knows why.
      const late = sim.world.actions.filter((a) => a.ackedAt !== undefined && (a.ackedAt as number) > cut + sim.failureMs / 2 + 100)
      expect(late).toEqual([])
      expect(p?.notice?.code).toMatch(/^(no_quorum|no_replica)$/)
      expect(p?.pendingCount).toBeGreaterThan(3)
      sim.world.start(other.label, 1)
      await sim.until(() => p?.pendingCount === 0 && p?.notice === null, 30_000, "every waiting action lands once the replica is back")
      await sim.run(5_000)
      expect(sim.lostOrDoubled(session)).toEqual([])
    })
  })

  test('"local" durability in a partition: what the cut-off owner acknowledged within its lease is all that can be lost', async () => {
    await simulate(
      "local-lease",
      async (sim) => {
        const procs = await sim.startCluster(["a", "b", "c"])
        const session = await sim.createSession("a")
        await sim.play(session, ["p1", "p2", "p3"], 25_000, 100)
        await sim.run(3_000)
        const owner = sim.owner(session) as NonNullable<ReturnType<typeof sim.owner>>
        sim.isolate(owner, procs.filter((q) => q !== owner))
        const cut = sim.now
        await sim.run(8_000)
        sim.world.net.heal()
        await sim.run(20_000)
        const lost = sim.lostOrDoubled(session).filter((x) => x.endsWith("lost"))
        const ids = new Set(lost.map((x) => x.split(" ")[0]))
        const leaseEnd = cut + sim.failureMs / 2
        for (const a of sim.world.actions.filter((x) => ids.has(x.id))) expect(a.ackedAt as number).toBeLessThanOrEqual(leaseEnd + 50)
        expect(sim.lostOrDoubled(session).filter((x) => x.includes("times"))).toEqual([])
      },
      { games: () => [ledgerGame(1, { durability: "local" })] },
    )
  })

  test("a new version that cannot load an old state: the session stays with a node of the old version", async () => {
    await simulate(
      "versions",
      async (sim) => {
        await sim.startCluster(["a", "b"])
        const session = await sim.createSession("a")
        await sim.play(session, ["p"], 10_000)
        await sim.run(1_000)
        sim.world.start("c", 2)
        await sim.until(() => sim.converged(), 5_000, "the new version joins")
        const owner = sim.owner(session) as NonNullable<ReturnType<typeof sim.owner>>
        await sim.stop(owner.label)
        // Refused by c (its game cannot migrate the state): handed to the other node of version 1.
        expect(sim.owner(session)?.version).toBe(1)
        await sim.run(12_000)
        expect(sim.lostOrDoubled(session)).toEqual([])
      },
      { games: (v) => [ledgerGame(v, { migrates: false })] },
    )
  })
})

describe("rolling deploys", () => {
  test("a failover whose first choice cannot load the state (a new version, no migration) goes to the next node", async () => {
    await simulate(
      "step-aside",
      async (sim) => {
        const [a, b] = await sim.startCluster(["a", "b"], 2)
        const session = await sim.createSession("a")
        await sim.play(session, ["s1"], 30_000)
        await sim.run(1_000)
        sim.world.start("c", 3)
        await sim.until(() => sim.converged(), 5_000, "the new version joins")
        const owner = sim.owner(session) as NonNullable<ReturnType<typeof sim.owner>>
        const survivor = owner === a ? b : a
        sim.world.crash(owner)
        const ms = await sim.until(() => sim.owner(session) !== undefined, 10 * sim.failureMs, "the session runs again")
        expect(sim.owner(session)).toBe(survivor as NonNullable<typeof survivor>)
        expect(ms).toBeLessThan(4 * sim.failureMs)
        await sim.run(30_000)
        expect(sim.lostOrDoubled(session)).toEqual([])
      },
      { games: (v) => [ledgerGame(v, { migrates: v < 3 })] },
    )
  })

  test("a drain while the third node is cut off from both others: every session moves or stays, nothing lost", async () => {
    await simulate("drain-partition", async (sim) => {
      const [a, b, c] = await sim.startCluster(["a", "b", "c"])
      const sessions = await Promise.all([sim.createSession("a"), sim.createSession("b"), sim.createSession("c")].map((p) => p))
      for (const [i, s] of sessions.entries()) await sim.play(s, [`d${i}`], 25_000)
      await sim.run(2_000)
      sim.isolate(c as SimProcess, [a, b] as SimProcess[])
      sim.world.start("a2", 2)
      await sim.run(1_000)
      await sim.stop("a")
      await sim.run(6_000)
      sim.world.net.heal()
      await sim.until(() => sim.converged() && sessions.every((s) => sim.world.live().filter((p) => p.node?.hasSession(s)).length === 1), 15_000, "healed: one owner each")
      await sim.run(20_000)
      for (const s of sessions) expect(sim.lostOrDoubled(s)).toEqual([])
    })
  })

  test("the node receiving a drain's sessions crashes 250 ms into the drain: nothing acknowledged is lost", async () => {
    await simulate("drain-target-crash", async (sim) => {
      await sim.startCluster(["a", "b", "c"])
      const sessions: string[] = []
      for (let i = 0; i < 6; i++) sessions.push(await sim.createSession("a"))
      for (const [i, s] of sessions.entries()) await sim.play(s, [`k${i}`], 25_000, 150)
      await sim.run(2_000)
      const owner = sim.owner(sessions[0] as string) as NonNullable<ReturnType<typeof sim.owner>>
      // As in a rolling deploy: the replacement is up before the old node drains (with three voters
      // left after a crash, two of them still make a majority).
      sim.world.start("fresh", 1)
      await sim.until(() => sim.converged(), 5_000, "the replacement joins")
      void sim.world.stop(owner)
      await sim.run(250)
      const target = sim.world.live().find((p) => p !== owner && sessions.some((s) => p.node?.hasSession(s))) ?? sim.world.live().find((p) => p !== owner)
      sim.world.crash(target as NonNullable<typeof target>)
      await sim.until(() => sessions.every((s) => sim.owner(s) !== undefined), 20_000, "every session runs on a live node")
      await sim.run(25_000)
      for (const s of sessions) expect(sim.lostOrDoubled(s)).toEqual([])
    })
  })

  test("after a rolling deploy the sessions spread out again, one move at a time, nothing lost", async () => {
    // A roll piles sessions onto the first node of the new version (placement prefers the newest);
    // issue 15: a dev roll left 3 of 3 sessions on one node. The rebalancer moves them back.
    await simulate(
      "rebalance-after-roll",
      async (sim) => {
        await sim.startCluster(["a", "b", "c"])
        const sessions: string[] = []
        for (let i = 0; i < 12; i++) sessions.push(await sim.createSession(["a", "b", "c"][i % 3] as string))
        for (const [i, s] of sessions.entries()) await sim.play(s, [`q${i}`], 90_000, 500)
        await sim.run(2_000)
        const counts = () => sim.world.live().map((p) => p.node?.sessionCount ?? 0)
        // Roll each node to version 2, one at a time, as fast as joins allow.
        let peak = 0
        for (const old of [...sim.world.live()]) {
          const fresh = sim.world.start(`${old.label}v2`, 2)
          await sim.until(() => fresh.state === "up" && fresh.node?.status === "ready" && sim.converged(), 10_000, `${fresh.label} joins`)
          await sim.stop(old.label)
          peak = Math.max(peak, ...counts())
        }
        // The roll did pile them up: one new node took half or more, past the 5 of 12 asked for below.
        expect(peak).toBeGreaterThanOrEqual(6)
        // Steady for two failure timeouts, then at most one move per node per second.
        await sim.until(() => Math.max(...counts()) <= 5, 60_000, "every node runs at most 5 of the 12 sessions")
        for (const s of sessions) expect(sim.lostOrDoubled(s)).toEqual([])
        const moves = sim.world.log.filter((l) => l.includes("rebalanced a session"))
        expect(moves.length).toBeGreaterThan(0)
      },
      { games: (v) => [ledgerGame(v)] },
    )
  })

  test("a player joining while its session is frozen for a move is answered once the move ends (its join is not dropped)", async () => {
    // Seed 9270: a join queued on a session frozen for a handoff was dropped when the session was
    // released; the player sat on a connection that answered its pings and never its join.
    await simulate("join-during-a-move", async (sim) => {
      const [a, b] = await sim.startCluster(["a", "b"])
      const sessions: string[] = []
      for (let i = 0; i < 10; i++) sessions.push(await sim.createSession(i % 2 ? "a" : "b"))
      for (const [i, s] of sessions.entries()) await sim.play(s, [`q${i}`], 60_000, 500)
      const c = sim.world.start("c", 1)
      // The rebalancer moves sessions to c (placement ranks it first for some) once the cluster is steady.
      let moving: { session: string; from: SimProcess } | undefined
      await sim.until(() => {
        for (const from of [a, b] as SimProcess[]) for (const session of sessions) if (from.node?.hosted(session)?.frozen) moving = { session, from }
        return moving !== undefined
      }, 30_000, "a session is frozen for a move")
      const { session, from } = moving as NonNullable<typeof moving>
      // c's answer to the handoff waits (TCP retransmits across the cut) while a new player joins through the source.
      sim.world.net.cut(c.owner, from.owner)
      sim.world.bot("late", session, 200, sim.now + 20_000, sim.world.url(from), { direct: false })
      await sim.until(() => (from.node?.hosted(session)?.queued.length ?? 0) > 0, 2_000, "the join waits in the frozen session's queue")
      await sim.run(300)
      sim.world.net.heal()
      await sim.until(() => sim.bot("late")?.status === "open", 3_000, "the late player is answered")
      await sim.run(3_000)
      expect(sim.world.actions.filter((x) => x.id.startsWith("late-") && x.ackedAt !== undefined).length).toBeGreaterThan(5)
      for (const s of sessions) expect(sim.lostOrDoubled(s)).toEqual([])
    })
  })

  test("two rolls to new game versions (the state migrates), a node killed in the middle of the second", async () => {
    await simulate(
      "two-rolls",
      async (sim) => {
        await sim.startCluster(["a", "b", "c"])
        const sessions = [await sim.createSession("a"), await sim.createSession("b"), await sim.createSession("c")]
        for (const [i, s] of sessions.entries()) await sim.play(s, [`r${i}x`, `r${i}y`], 60_000, 300)
        await sim.run(2_000)
        for (const [version, suffix] of [[2, "v2"], [3, "v3"]] as const) {
          for (const old of [...sim.world.live()]) {
            const fresh = sim.world.start(`${old.label.replace(/v\d$/, "")}${suffix}`, version)
            await sim.until(() => fresh.state === "up" && fresh.node?.status === "ready" && sim.converged(), 10_000, `${fresh.label} joins`)
            if (version === 3 && old.label.startsWith("b")) {
              sim.world.crash(old)
              await sim.until(() => sessions.every((s) => sim.owner(s) !== undefined), 20_000, "the killed node's sessions run again")
            } else await sim.stop(old.label)
          }
        }
        await sim.run(60_000)
        for (const s of sessions) {
          expect(sim.lostOrDoubled(s)).toEqual([])
          expect(sim.owner(s)?.version).toBe(3)
          expect((sim.owner(s)?.node?.hosted(s)?.session.record.state as { count?: number }).count).toBe(sim.owner(s)?.node?.hosted(s)?.session.record.state && (sim.owner(s)?.node?.hosted(s)?.session.record.state as { applied: string[] }).applied.length)
        }
      },
      { games: (v) => [ledgerGame(v)] },
    )
  })
})
