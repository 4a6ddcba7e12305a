import { afterEach, describe, expect, setSystemTime, test } from "bun:test"
import type { Cluster, Member, Quorum } from "../../framework/cluster/index.ts"
import type { SessionRecord } from "../../framework/game/index.ts"
import { systemClock } from "../../framework/cluster/index.ts"
import type { HandoffHost } from "../../framework/cluster/port.ts"
import { type CopyRequest, type GrantAnswer, type GrantRequest, type RetractMessage, Takeover } from "../../framework/cluster/takeover.ts"

/**
 * Takeover's rules with small fakes: a HandoffHost (registry entries, sessions
 * running, adopt recorded) and a Cluster view (members, silence, φ suspicion,
 * the quorum), whose request() reaches the other fakes' Takeover in-process.
 */

const FAILURE_MS = 3_000
const PROMISE_MS = 10_000
const S = "s1"

type Entry = { owner: string; epoch: number; status: "open" | "ended" }
type Copy = { record: SessionRecord; epoch: number; streamed?: boolean }
/** `leaseLeftMs`: what is left of the lease the member announced, from the last heartbeat this node echoed (known only for a member down here). */
/** `gone`: down, its process gone (its address refuses), no data dir: its copies died with it. */
type View = { up: boolean; voter: boolean; silentMs: number; suspected: boolean; leaseLeftMs?: number; gone?: boolean }

const record = (rev: number, tag = ""): SessionRecord => ({ id: S, rev, tag }) as unknown as SessionRecord
const copy = (epoch: number, rev: number, streamed: boolean, tag = ""): Copy => ({ record: record(rev, tag), epoch, streamed })

class Net {
  readonly nodes = new Map<string, FakeNode>()
  /** Requests to these nodes fail: no link. */
  readonly unreachable = new Set<string>()
  /** Requests to these nodes are delivered and handled, but the answer never comes back. */
  readonly answerLost = new Set<string>()

  node(id: string): FakeNode {
    const n = this.nodes.get(id)
    if (!n) throw new Error(`no fake node ${id}`)
    return n
  }
}

class FakeNode {
  readonly entries = new Map<string, Entry>()
  readonly running = new Map<string, number>()
  readonly copies = new Map<string, Copy>()
  readonly adopted: { record: SessionRecord; epoch: number; via: string }[] = []
  /** This node's view of the others (itself excluded). */
  readonly view = new Map<string, View>()
  readonly requests: { to: string; t: string }[] = []
  readonly sent: { to: string; body: RetractMessage }[] = []
  readonly takeover: Takeover

  constructor(
    readonly id: string,
    readonly net: Net,
  ) {
    net.nodes.set(id, this)
    const host = {
      id,
      clock: systemClock,
      store: { entry: (s: string) => this.entries.get(s) },
      epochOf: (s: string) => this.running.get(s),
      adopt: (rec: SessionRecord, epoch: number, via: string) => {
        this.adopted.push({ record: rec, epoch, via })
        this.running.set(rec.id, epoch)
      },
    }
    const cluster = {
      failureMs: FAILURE_MS,
      member: (m: string): Member | undefined => {
        if (m === id) return { id, up: true, voter: true } as Member
        const v = this.view.get(m)
        return v && ({ id: m, up: v.up, voter: v.voter } as Member)
      },
      silentMs: (m: string) => (m === id ? 0 : (this.view.get(m)?.silentMs ?? Number.POSITIVE_INFINITY)),
      suspected: (m: string) => this.view.get(m)?.suspected === true,
      copiesGone: (m: string) => this.view.get(m)?.gone === true,
      // Cluster.lapsesInMs's rule, over this fake view.
      lapsesInMs: (m: string) => {
        const v = this.view.get(m)
        const silent = v?.silentMs ?? Number.POSITIVE_INFINITY
        if (v?.up) return v.suspected ? FAILURE_MS - silent : Math.max(1, FAILURE_MS - silent)
        return v?.leaseLeftMs ?? FAILURE_MS - silent
      },
      quorum: (): Quorum => {
        const voters = [id, ...[...this.view].filter(([, v]) => v.voter).map(([m]) => m)]
        const up = [id, ...[...this.view].filter(([, v]) => v.voter && v.up).map(([m]) => m)]
        return { voters, up, majority: up.length * 2 > voters.length }
      },
      request: async (to: string, t: "grant" | "copy", body: GrantRequest | CopyRequest): Promise<unknown> => {
        this.requests.push({ to, t })
        const peer = net.nodes.get(to)
        if (!peer || net.unreachable.has(to)) throw new Error(`no link to ${to}`)
        // Over the wire: JSON both ways.
        const wire = JSON.parse(JSON.stringify(body))
        const answer = t === "grant" ? peer.takeover.grant(id, wire) : peer.takeover.copy(wire)
        if (net.answerLost.has(to)) throw new Error(`request to ${to} timed out after 1500 ms`)
        return JSON.parse(JSON.stringify(answer))
      },
      send: (to: string, _t: "grant-retract", body: RetractMessage): boolean => {
        this.sent.push({ to, body })
        const peer = net.nodes.get(to)
        if (!peer || net.unreachable.has(to)) return false
        peer.takeover.retracted(id, JSON.parse(JSON.stringify(body)))
        return true
      },
    }
    this.takeover = new Takeover(host as unknown as HandoffHost, cluster as unknown as Cluster, (s) => this.copies.get(s))
  }

  /** How this node sees member `m`. */
  sees(m: string, v: Partial<View>): this {
    this.view.set(m, { up: true, voter: true, silentMs: 0, suspected: false, ...this.view.get(m), ...v })
    return this
  }

  grantsFrom(to: string): string[] {
    return this.requests.filter((r) => r.to === to).map((r) => r.t)
  }
}

/** A live owner: heard just now. A dead one: marked down, silent past the failure timeout (φ forgot it). */
const HEARD: Partial<View> = { up: true, silentMs: 200, suspected: false }
const DEAD: Partial<View> = { up: false, silentMs: FAILURE_MS + 2_000, suspected: false }

/**
 * Nodes `ids` (all up, hearing each other) and an owner `O` that is dead in
 * every view (not a fake node: requests to it fail), with the registry entry
 * `{ owner: O, epoch }` on every node.
 */
function world(ids: string[], epoch = 1): Net {
  const net = new Net()
  for (const id of ids) {
    const n = new FakeNode(id, net)
    n.entries.set(S, { owner: "O", epoch, status: "open" })
    n.sees("O", DEAD)
    for (const other of ids) if (other !== id) n.sees(other, {})
  }
  return net
}

/** One voter `V` asked by `R` about owner `O`. */
function voter(owner: Partial<View> = DEAD, entry: Entry = { owner: "O", epoch: 1, status: "open" }): FakeNode {
  const v = new FakeNode("V", new Net())
  v.entries.set(S, entry)
  v.sees("O", owner).sees("R", {})
  return v
}

const ask = (v: FakeNode, epoch: number, from = "R", owner = "O"): GrantAnswer => v.takeover.grant(from, { session: S, epoch, owner })

afterEach(() => setSystemTime())

describe("Takeover.grant: when a voter votes", () => {
  test("refuses while it hears the owner (silent < failureMs), even one it has marked down", () => {
    expect(ask(voter(HEARD), 2)).toMatchObject({ ok: false, why: expect.stringContaining("its owner O was heard 200 ms ago") })
    // Down in its view (a refused redial, say), but heard within the failure timeout: its lease may still run.
    expect(ask(voter({ up: false, silentMs: FAILURE_MS - 1, suspected: false }), 2).ok).toBe(false)
    expect(ask(voter({ up: true, silentMs: FAILURE_MS - 1, suspected: true }), 2).ok).toBe(false)
  })

  test("refuses an owner silent past failureMs whose rhythm explains it (up, φ below threshold); grants once it is suspected", () => {
    expect(ask(voter({ up: true, silentMs: FAILURE_MS + 500, suspected: false }), 2)).toMatchObject({ ok: false, why: expect.stringContaining("was heard") })
    expect(ask(voter({ up: true, silentMs: FAILURE_MS + 500, suspected: true }), 2)).toEqual({ ok: true, copy: null })
  })

  test("grants once the owner is down and silent for the failure timeout", () => {
    expect(ask(voter(DEAD), 2)).toEqual({ ok: true, copy: null })
    expect(ask(voter({ up: false, silentMs: FAILURE_MS, suspected: false }), 2).ok).toBe(true)
  })

  test("an owner down here (its link reset: a crash) is past its lease sooner than the failure timeout: refused until then, told how long", () => {
    const early = ask(voter({ up: false, silentMs: 900, suspected: false, leaseLeftMs: 300 }), 2)
    expect(early).toMatchObject({ ok: false, why: expect.stringContaining("was heard 900 ms ago"), waitMs: 300 })
    expect(ask(voter({ up: false, silentMs: 1_200, suspected: false, leaseLeftMs: -1 }), 2)).toEqual({ ok: true, copy: null })
    // Up in the voter's view, the lease says nothing: the failure timeout and φ decide.
    expect(ask(voter({ up: true, silentMs: 1_200, suspected: false, leaseLeftMs: -1 }), 2).ok).toBe(false)
  })

  test("grants when the owner said goodbye (up=false, voter=false), however recently it was heard", () => {
    expect(ask(voter({ up: false, voter: false, silentMs: 5, suspected: false }), 2)).toEqual({ ok: true, copy: null })
    // The same silence without the goodbye is a live owner.
    expect(ask(voter({ up: false, voter: true, silentMs: 5, suspected: false }), 2).ok).toBe(false)
  })

  test("grants for an owner it never heard of (silent forever)", () => {
    const v = voter()
    v.view.delete("O")
    expect(ask(v, 2).ok).toBe(true)
  })

  test("the silence rule binds neither the registered owner asked for its own vote (it runs nothing) nor the requester", () => {
    const v = voter(HEARD, { owner: "V", epoch: 1, status: "open" })
    expect(ask(v, 2, "R", "V").ok).toBe(true)
    const w = voter(HEARD)
    expect(ask(w, 2, "O", "O").ok).toBe(true)
  })

  test("refuses an epoch it already voted to another requester, and any lower epoch; the same requester may ask again", () => {
    const v = voter()
    expect(ask(v, 5, "R").ok).toBe(true)
    expect(ask(v, 5, "R").ok).toBe(true) // a resent request from the same requester
    expect(ask(v, 5, "Q")).toMatchObject({ ok: false, why: "epoch 5 was granted to R", epoch: 5 })
    // Lower epochs, whoever asks (the registry says only 1, so this is the vote's doing).
    expect(ask(v, 4, "Q")).toMatchObject({ ok: false, why: "epoch 5 was granted to R", epoch: 5 })
    expect(ask(v, 3, "R")).toMatchObject({ ok: false, epoch: 5 })
    expect(ask(v, 6, "R").ok).toBe(true)
    expect(v.takeover.promisedEpoch(S)).toBe(6)
  })

  test("a request naming an owner this voter knows was replaced: the owner its registry names must be past its lease too", () => {
    // R's registry still says O; this voter's says A took the session over at epoch 3, and hears A.
    const v = voter(DEAD, { owner: "A", epoch: 3, status: "open" })
    v.sees("A", HEARD)
    expect(ask(v, 4, "R", "O")).toMatchObject({ ok: false, why: expect.stringContaining("its owner is A (epoch 3) here"), epoch: 3 })
    v.sees("A", DEAD)
    expect(ask(v, 4, "R", "O").ok).toBe(true)
  })

  test("refuses a newer epoch to another node while its vote to a live requester stands (that round may still adopt); grants once it is taken back or the requester's lease is over", () => {
    // Seed 9244: n1 voted for its own epoch 3, then for n2's epoch 4 while its round was out; both adopted.
    const v = voter()
    v.sees("Q", {})
    expect(ask(v, 5, "R").ok).toBe(true)
    expect(ask(v, 6, "Q")).toMatchObject({ ok: false, why: "epoch 5 was granted to R, whose round may still adopt it", epoch: 5, waitMs: FAILURE_MS / 3 })
    v.takeover.retracted("R", { session: S, epoch: 5 })
    expect(ask(v, 6, "Q").ok).toBe(true)
    // The same for the voter's own round, and for a requester that can no longer act.
    const w = voter()
    w.sees("Q", {})
    expect(ask(w, 5, "V").ok).toBe(true)
    expect(ask(w, 6, "Q").ok).toBe(false)
    // A requester seen down may still be in the middle of its round: its vote stands until that round can no longer adopt.
    setSystemTime(new Date("2030-01-01T00:00:00Z"))
    const x = voter()
    x.sees("Q", {})
    expect(ask(x, 5, "R").ok).toBe(true)
    x.sees("R", DEAD)
    expect(ask(x, 6, "Q").ok).toBe(false)
    setSystemTime(new Date(Date.now() + 3_000))
    expect(ask(x, 6, "Q").ok).toBe(false)
    setSystemTime(new Date(Date.now() + 1_000))
    expect(ask(x, 6, "Q").ok).toBe(true)
  })

  test("a lapsed or retracted vote still names its epoch: nobody else gets it, or a lower one", () => {
    setSystemTime(new Date("2030-01-01T00:00:00Z"))
    const v = voter()
    expect(ask(v, 3, "R").ok).toBe(true)
    v.takeover.retracted("R", { session: S, epoch: 3 })
    expect(ask(v, 3, "Q").ok).toBe(false)
    expect(ask(v, 4, "Q").ok).toBe(true)
    setSystemTime(new Date(Date.now() + PROMISE_MS + 1))
    expect(v.takeover.promisedEpoch(S)).toBeUndefined()
    expect(ask(v, 4, "R").ok).toBe(false)
  })

  test("refuses when it runs the session itself, saying at which epoch", () => {
    const v = voter()
    v.running.set(S, 1)
    expect(ask(v, 2)).toMatchObject({ ok: false, why: "it runs on V at epoch 1", epoch: 1 })
    // Not even for a far higher epoch.
    expect(ask(v, 50).ok).toBe(false)
  })

  test("refuses when its registry shows the epoch taken by another node; grants above it, or to the one registered", () => {
    const v = voter(DEAD, { owner: "O", epoch: 4, status: "open" })
    expect(ask(v, 4)).toMatchObject({ ok: false, why: "epoch 4 belongs to O", epoch: 4 })
    expect(ask(v, 3)).toMatchObject({ ok: false, epoch: 4 })
    expect(ask(v, 5).ok).toBe(true)
    // The registry already names the requester at that epoch (its adopt got there first): not someone else's epoch.
    const w = voter(DEAD, { owner: "R", epoch: 4, status: "open" })
    w.sees("R", { up: true })
    expect(ask(w, 4).ok).toBe(true)
  })

  test("refuses when its copy of the session is at the epoch or later; the answer reports the copy either way", () => {
    const v = voter()
    v.copies.set(S, copy(3, 17, true))
    expect(ask(v, 3)).toEqual({ ok: false, why: "a copy of epoch 3 is here", epoch: 3, copy: { epoch: 3, rev: 17, streamed: true } })
    expect(ask(v, 2).ok).toBe(false)
    expect(ask(v, 4)).toEqual({ ok: true, copy: { epoch: 3, rev: 17, streamed: true } })
    const w = voter()
    w.copies.set(S, { record: record(9), epoch: 1 }) // a document copy: streamed absent
    expect(ask(w, 2)).toEqual({ ok: true, copy: { epoch: 1, rev: 9, streamed: false } })
  })

  test("refuses malformed requests", () => {
    const v = voter()
    for (const epoch of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) expect(ask(v, epoch)).toMatchObject({ ok: false, why: "a malformed request" })
    expect(v.takeover.grant("R", { session: S, epoch: 2, owner: 7 as unknown as string }).ok).toBe(false)
    expect(v.takeover.promisedEpoch(S)).toBeUndefined()
  })
})

describe("Takeover.promisedEpoch: what a vote holds back", () => {
  test("is set by a vote and lapses after the vote's lifetime (PROMISE_MS)", () => {
    const t0 = new Date("2030-01-01T00:00:00Z").getTime()
    setSystemTime(t0)
    const v = voter()
    expect(v.takeover.promisedEpoch(S)).toBeUndefined()
    expect(ask(v, 2).ok).toBe(true)
    expect(v.takeover.promisedEpoch(S)).toBe(2)
    expect(v.takeover.promisedEpoch("other")).toBeUndefined()
    setSystemTime(t0 + PROMISE_MS - 1)
    expect(v.takeover.promisedEpoch(S)).toBe(2)
    setSystemTime(t0 + PROMISE_MS)
    expect(v.takeover.promisedEpoch(S)).toBeUndefined()
  })

  test("a refusal promises nothing", () => {
    const v = voter(HEARD)
    expect(ask(v, 2).ok).toBe(false)
    expect(v.takeover.promisedEpoch(S)).toBeUndefined()
  })

  test("a retract from the requester clears it at once; one from another node, or for another epoch, does not", () => {
    setSystemTime(new Date("2030-01-01T00:00:00Z"))
    const v = voter()
    expect(ask(v, 2, "R").ok).toBe(true)
    v.takeover.retracted("Q", { session: S, epoch: 2 })
    expect(v.takeover.promisedEpoch(S)).toBe(2)
    v.takeover.retracted("R", { session: S, epoch: 1 })
    expect(v.takeover.promisedEpoch(S)).toBe(2)
    v.takeover.retracted("R", { session: S, epoch: 2 })
    expect(v.takeover.promisedEpoch(S)).toBeUndefined()
  })
})

describe("Takeover.run: the requester", () => {
  test("without a majority nothing is adopted, and the votes taken are retracted", async () => {
    // Five voters: R, V1, V2, V3 and the dead owner O. V2 and V3 still hear O: only R and V1 vote.
    const net = world(["R", "V1", "V2", "V3"])
    for (const id of ["V2", "V3"]) net.node(id).sees("O", HEARD)
    const r = net.node("R")
    const out = await r.takeover.run(S, "O", "failover from O")
    expect(out).toMatchObject({ ok: false, why: expect.stringMatching(/^no majority: 2 of 5 voted/) })
    expect(r.adopted).toEqual([])
    expect(r.grantsFrom("V1")).toEqual(["grant"])
    // Every peer asked is told (a vote whose answer was lost stands too); those that refused ignore it.
    expect(r.sent).toEqual(["V1", "V2", "V3"].map((to) => ({ to, body: { session: S, epoch: 2 } })))
    expect(net.node("V1").takeover.promisedEpoch(S)).toBeUndefined()
    expect(r.takeover.promisedEpoch(S)).toBeUndefined()
    for (const id of ["V2", "V3"]) expect(net.node(id).takeover.promisedEpoch(S)).toBeUndefined()
  })

  test("voters whose view of the owner's lease runs a little behind say when it ends: the result says when to try again", async () => {
    const net = world(["R", "V1", "V2"])
    net.node("V1").copies.set(S, copy(1, 7, true))
    net.node("R").sees("O", { up: false, silentMs: 1_200, leaseLeftMs: -5 })
    for (const [id, left] of [["V1", 40], ["V2", 25]] as const) net.node(id).sees("O", { up: false, silentMs: 1_150, leaseLeftMs: left })
    const out = await net.node("R").takeover.run(S, "O", "failover from O")
    expect(out).toMatchObject({ ok: false, why: expect.stringMatching(/^no majority: 1 of 4 voted/), retryInMs: 40 })
    // Once their view has caught up, the next round wins.
    for (const id of ["V1", "V2"]) net.node(id).sees("O", { leaseLeftMs: -1 })
    expect(await net.node("R").takeover.run(S, "O", "failover from O")).toEqual({ ok: true })
  })

  test("no copy anywhere, and the owner and every voter that did not answer died without a data dir: the session is lost", async () => {
    // Four voters, two dead at once (no majority is left): R and V1 answer, neither holds a copy.
    const net = world(["R", "V1"])
    for (const id of ["R", "V1"]) net.node(id).sees("O", { gone: true }).sees("X", { ...DEAD, gone: true })
    net.node("R").sees("X", { ...DEAD, gone: true })
    const out = await net.node("R").takeover.run(S, "O", "failover from O")
    expect(out).toMatchObject({ ok: false, lost: true, why: expect.stringContaining("no copy of it is left") })
    expect(net.node("R").adopted).toEqual([])
    // X down but not known dead (a partition: its process may run, holding a copy): no verdict.
    net.node("R").sees("X", { gone: false })
    expect(await net.node("R").takeover.run(S, "O", "failover from O")).not.toHaveProperty("lost")
    // A copy answered: no verdict either.
    net.node("R").sees("X", { gone: true })
    net.node("V1").copies.set(S, copy(1, 3, false))
    expect(await net.node("R").takeover.run(S, "O", "failover from O")).not.toHaveProperty("lost")
  })

  test("a refusal of its own vote asks nobody", async () => {
    const net = world(["R", "V1", "V2"])
    net.node("R").sees("O", HEARD)
    const out = await net.node("R").takeover.run(S, "O", "failover from O")
    expect(out).toMatchObject({ ok: false, why: expect.stringContaining("this node: its owner O was heard") })
    expect(net.node("R").requests).toEqual([])
  })

  test("with a majority, the newest copy (epoch, then rev) among all answers, refusals included, is fetched from its holder and adopted at the next epoch", async () => {
    const net = world(["R", "V1", "V2", "V3"], 2)
    const [r, v1, v2, v3] = ["R", "V1", "V2", "V3"].map((id) => net.node(id))
    r!.copies.set(S, copy(2, 5, true, "R's"))
    v1!.copies.set(S, copy(1, 50, true, "V1's")) // the most changes, of an older epoch
    v2!.copies.set(S, copy(2, 9, true, "V2's")) // the newest: V2 still hears O and refuses
    v2!.sees("O", HEARD)
    v3!.copies.set(S, copy(2, 7, true, "V3's"))
    const out = await r!.takeover.run(S, "O", "failover from O")
    expect(out).toEqual({ ok: true })
    expect(r!.adopted).toEqual([{ record: record(9, "V2's"), epoch: 3, via: "failover from O" }])
    // The copy was asked of V2 alone; the votes stand (nothing retracted).
    expect(r!.requests.filter((q) => q.t === "copy")).toEqual([{ to: "V2", t: "copy" }])
    expect(r!.sent).toEqual([])
    expect(v1!.takeover.promisedEpoch(S)).toBe(3)
    expect(v3!.takeover.promisedEpoch(S)).toBe(3)
  })

  test("with a majority and its own copy the newest, it adopts that without fetching", async () => {
    const net = world(["R", "V1", "V2"])
    const r = net.node("R")
    r.copies.set(S, copy(1, 12, true, "R's"))
    net.node("V1").copies.set(S, copy(1, 11, true))
    expect(await r.takeover.run(S, "O", "failover from O")).toEqual({ ok: true })
    expect(r.adopted).toEqual([{ record: record(12, "R's"), epoch: 2, via: "failover from O" }])
    expect(r.requests.filter((q) => q.t === "copy")).toEqual([])
  })

  test("asks above every epoch it knows: registry, own copy, and those refusals reported in the previous round", async () => {
    const net = world(["R", "V1", "V2"], 2)
    const r = net.node("R")
    // V1 and V2 voted epoch 6 to another requester (Q) that never adopted: R's first round is refused.
    for (const id of ["V1", "V2"]) expect(ask(net.node(id), 6, "Q").ok).toBe(true)
    r.copies.set(S, copy(2, 4, true))
    expect(await r.takeover.run(S, "O", "failover from O")).toMatchObject({ ok: false, why: expect.stringContaining("epoch 6 was granted to Q") })
    // Q's round could still adopt for a while after the votes; Q is no member the voters hear, so then no longer.
    setSystemTime(new Date(Date.now() + 4_000))
    expect(await r.takeover.run(S, "O", "failover from O")).toEqual({ ok: true })
    expect(r.adopted.map((a) => a.epoch)).toEqual([7])
  })

  test("waits (adopts nothing, retracts) when no streamed copy of the last epoch answered and a voter did not answer", async () => {
    // Five voters; V3, which may hold the owner's stream, is cut off. R has only a document copy of epoch 2,
    // V1 a streamed copy of epoch 1 (older than the registry's).
    const net = world(["R", "V1", "V2", "V3"], 2)
    const r = net.node("R")
    r.copies.set(S, copy(2, 40, false))
    net.node("V1").copies.set(S, copy(1, 30, true))
    net.unreachable.add("V3")
    const out = await r.takeover.run(S, "O", "failover from O")
    expect(out).toMatchObject({ ok: false, why: "no streamed copy of epoch 2 among the answers, and V3 did not answer" })
    expect(r.adopted).toEqual([])
    expect(net.node("V1").takeover.promisedEpoch(S)).toBeUndefined()
    expect(net.node("V2").takeover.promisedEpoch(S)).toBeUndefined()
    // Down in R's view (not asked at all) is no different.
    net.unreachable.delete("V3")
    r.sees("V3", { up: false, silentMs: FAILURE_MS + 1, suspected: false })
    expect((await r.takeover.run(S, "O", "failover from O")).ok).toBe(false)
    expect(r.adopted).toEqual([])
  })

  test("proceeds without a voter's answer when a streamed copy of the last epoch answered", async () => {
    const net = world(["R", "V1", "V2", "V3"], 2)
    const r = net.node("R")
    r.copies.set(S, copy(2, 40, false))
    net.node("V2").copies.set(S, copy(2, 41, true, "V2's stream"))
    net.unreachable.add("V3")
    expect(await r.takeover.run(S, "O", "failover from O")).toEqual({ ok: true })
    expect(r.adopted).toEqual([{ record: record(41, "V2's stream"), epoch: 3, via: "failover from O" }])
  })

  test("proceeds with a document copy when every voter but the owner answered", async () => {
    const net = world(["R", "V1", "V2", "V3"], 2)
    const r = net.node("R")
    r.copies.set(S, copy(2, 40, false, "R's document"))
    net.node("V1").copies.set(S, copy(1, 30, true))
    net.node("V3").sees("O", HEARD) // V3 refuses, but it answered: nobody holds more than what the answers show
    expect(await r.takeover.run(S, "O", "failover from O")).toEqual({ ok: true })
    expect(r.adopted).toEqual([{ record: record(40, "R's document"), epoch: 3, via: "failover from O" }])
  })
})

/** Gaps found while writing the tests above, and closed in takeover.ts. */
describe("gaps the review found, now closed", () => {
  test("a round that fails takes back a vote whose answer was lost (docs/partitions.md: 'A round that fails takes its votes back')", async () => {
    // V1 votes but its answer never arrives (a timeout: a busy event loop, a cut forming). V2 and V3 hear O.
    const net = world(["R", "V1", "V2", "V3"])
    for (const id of ["V2", "V3"]) net.node(id).sees("O", HEARD)
    net.answerLost.add("V1")
    const out = await net.node("R").takeover.run(S, "O", "failover from O")
    expect(out.ok).toBe(false)
    expect(net.node("R").adopted).toEqual([])
    // V1's vote stands for PROMISE_MS: its replica confirms nothing of O's meanwhile, O alive or not.
    expect(net.node("V1").takeover.promisedEpoch(S)).toBeUndefined()
  })

  test("no adopt at an epoch a refusal says is in use ('two nodes never run one session at one epoch')", async () => {
    // Five voters. V2 runs the session at epoch 2 (handed to it by O, which then crashed before its goodbye);
    // the registry copies of R, V1 and V3 still say O at epoch 1. V2 refuses, saying so; V1 and V3 vote.
    const net = world(["R", "V1", "V2", "V3"], 1)
    const v2 = net.node("V2")
    v2.running.set(S, 2)
    v2.entries.set(S, { owner: "V2", epoch: 2, status: "open" })
    v2.copies.set(S, copy(2, 8, false, "V2's"))
    net.node("R").copies.set(S, copy(1, 5, true))
    const out = await net.node("R").takeover.run(S, "O", "failover from O")
    // R adopts at epoch 2 (V2's copy, even) while V2 runs epoch 2.
    expect(net.node("R").adopted).toEqual([])
    expect(out.ok).toBe(false)
  })
})
