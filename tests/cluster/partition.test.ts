import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { resolve } from "node:path"
import { type GameSession, createSession, join } from "batonjs/client"
import { rank } from "../../framework/cluster/placement.ts"
import type marks from "../fixtures/rolling/marks.ts"
import type { NodeProcess } from "../support/node-process.ts"
import { cpuHog, NetnsCluster, NetnsLab, netnsSupport } from "../support/netns.ts"
import { waitUntil } from "../support/wait.ts"

/**
 * The real-process partition proof: three node processes, each in its own
 * network namespace, a "replicated" game under load from players connected
 * to every node (the isolated one included), and real faults: iptables
 * DROP rules between namespaces, a drain cut in two, a SIGKILL of the node
 * a drain hands to, a CPU-starved machine. After each: no acknowledged
 * action lost or doubled, never two nodes acting for one session, every
 * session acting again soon after the fault ends, and (once the SDK has the
 * notice API) players on the minority side told within a second.
 *
 * Players (the test) live in the root namespace and always reach every node
 * through the bridge; only node-to-node traffic is cut.
 */

const support = netnsSupport()
if (!support.ok) console.warn(`partition.test.ts: SKIPPED: ${support.reason}`)

const app = resolve(import.meta.dir, "../fixtures/rolling")
/**
 * Timing bounds. The issue's are 2 s from the heal to every session acting and 1 s to a notice; they
 * are asserted with BATON_PARTITION_STRICT=1 (the proof command in docs/partitions.md). By default (CI, a
 * loaded laptop) the bounds are generous, since timing belongs in benchmarks; the real figures are printed.
 */
const STRICT = process.env.BATON_PARTITION_STRICT === "1"
/**
 * The proof's load (docs/partitions.md): 30 sessions, 90 bots every 30-50 ms, 8 s faults. The test
 * suite's run is lighter, to share two cores with the rest of the suite: 12 sessions, 36 bots every
 * 60-100 ms (still ~400 actions a second), and no CPU-hog scenario: it would starve the
 * suite's other tests too (a starved node is the simulator's "pause" fault; resolving cluster work
 * means running the proof tests under a hog anyway).
 */
const FULL = STRICT || process.env.BATON_PARTITION_FULL === "1"
const SESSIONS = FULL ? 30 : 12
const NODES = 3
/**
 * 8 s, not less: in a one-way cut the cut-off side hears the other until TCP stops sending
 * (no acks come back), and its relayed players are told only once it calls the owner down;
 * with 5 s faults a waiting player was sometimes never told (issue 15).
 */
const FAULT_MS = 8_000
const PACE_MS = FULL ? 30 : 60
const RECOVERY_LIMIT_MS = STRICT ? 2_000 : 10_000
/** The nodes' BATON_FAILURE_MS (tests/support/netns.ts): a crash is a silence that long before anyone may take over. */
const FAILURE_MS = 3_000
/** How long to wait for every bot to act again before calling the rest stalled. */
const RECOVERY_WAIT_MS = 20_000
/**
 * The cut-off side of a one-way cut tells its players once it calls the owner down: the failure timeout
 * after it last heard the owner (a little after the cut: TCP sends until no acks come back), then its
 * /healthz probe's timeout (half that), then a heartbeat round (200 ms here) each for the suspicion and
 * the notice. A 5 s limit left ~0.1 s for all that is not the design, and the whole suite beside a CPU
 * hog went 113 ms over it once; 2 s of room for such a machine.
 */
const NOTICE_LIMIT_MS = STRICT ? 1_000 : FAILURE_MS + FAILURE_MS / 2 + 2_000
/** No bot acts more than this many times in a scenario, nor for longer than this. */
const MAX_ACTS_PER_BOT = 3_000
const MAX_SCENARIO_MS = 150_000

type Notice = { code: string; message: string }
/** The notice API the SDK is to get (session.notice, session.onNotice); absent on today's SDK. */
type NoticeApi = { notice?: Notice | null; onNotice?: (fn: (n: Notice | null) => void) => () => void }

interface Ack {
  client: string
  /** The SDK's action id: its n-th act on that client (a bot acts one at a time). */
  id: number
  mark: number
  value: unknown
  at: number
}

interface Bot {
  sessionId: string
  player: string
  /** The node slot this bot connects to. */
  slot: number
  session: GameSession<typeof marks>
  nextId: number
  acks: Ack[]
  /** Every mark sent (acknowledged or not). */
  sent: Set<number>
  /** Sent and never acknowledged (rejected, or pending when the bot stopped). */
  unanswered: Set<number>
  errors: Record<string, number>
  /** When the action in flight was sent (null: none in flight). */
  pendingSince: number | null
  /** Every action's time in flight: sent, and acknowledged or given up (end). */
  flights: { sentAt: number; endAt: number; acked: boolean }[]
  notices: { at: number; code: string }[]
  rejoins: number
  dead?: string
}

const allBots: Bot[] = []
const clusters: NetnsCluster[] = []
let lab: NetnsLab | undefined

beforeAll(() => {
  if (support.ok) lab = NetnsLab.create(NODES)
})

afterAll(async () => {
  for (const b of allBots) b.session.close()
  for (const c of clusters) await c.killAll()
  if (lab) {
    lab.destroy()
    expect(lab.leftovers()).toEqual([])
  }
})

/** The scenario's faults and what is measured, kept apart from the load. */
interface Scenario {
  name: string
  cluster: NetnsCluster
  bots: Bot[]
  stop: boolean
  mark: number
  started: number
  loops: Promise<void>[]
  watch: OwnershipWatch
  ids: string[]
  nodeIds: string[]
  setupMs: number
}

async function startScenario(name: string, k: number, env: Record<string, string> = {}): Promise<Scenario> {
  const t0 = performance.now()
  const l = lab as NetnsLab
  l.heal()
  const cluster = new NetnsCluster(l, {
    app,
    basePort: 7100 + 10 * k,
    lifetimeMs: 180_000,
    env: { BATON_TEST_GAME_VERSION: "1", BATON_APP_VERSION: "1", BATON_GRACE_MS: "15000", ...env },
  })
  clusters.push(cluster)
  await cluster.start()
  const nodeIds = await Promise.all(cluster.slots.map((_, i) => cluster.idOf(i)))
  const ids: string[] = []
  for (let i = 0; i < SESSIONS; i++) ids.push((await createSession({ url: cluster.urls[i % NODES], game: "marks" })).id)
  const s: Scenario = { name, cluster, bots: [], stop: false, mark: 0, started: performance.now(), loops: [], watch: new OwnershipWatch(cluster), ids, nodeIds, setupMs: 0 }
  // One player per node in every session: players reach every node, the minority side's too.
  for (const id of ids) {
    const joined = await Promise.all(
      cluster.urls.map(async (url, slot) => {
        const player = `p${slot}`
        const session = await join<typeof marks>({ url, session: id, player, backoffMs: 20, maxBackoffMs: 300, direct: false })
        const bot: Bot = { sessionId: id, player, slot, session, nextId: 0, acks: [], sent: new Set(), unanswered: new Set(), errors: {}, pendingSince: null, flights: [], notices: [], rejoins: 0 }
        watchNotices(bot)
        return bot
      }),
    )
    s.bots.push(...joined)
  }
  allBots.push(...s.bots)
  s.loops = s.bots.map((b) => botLoop(s, b))
  s.watch.start()
  const slow = await progressed(s, 5, 30_000)
  if (slow.length) throw new Error(`${slow.length} bots did not make 5 acks before the fault (the cluster is not healthy to begin with)`)
  s.setupMs = performance.now() - t0
  return s
}

function watchNotices(bot: Bot): void {
  const api = bot.session as unknown as NoticeApi
  // Every change, "resolved" included: a notice still showing when the fault starts has told the player already.
  if (typeof api.onNotice === "function") api.onNotice((n) => void bot.notices.push({ at: performance.now(), code: n?.code ?? "resolved" }))
}

const noticeApi = () => typeof (allBots[0]?.session as unknown as NoticeApi | undefined)?.onNotice === "function"

/** Acts in a loop (every PACE_MS to 5/3 of it) with unique increasing marks; records every ack and what it said. */
async function botLoop(s: Scenario, b: Bot): Promise<void> {
  for (let count = 0; !s.stop && count < MAX_ACTS_PER_BOT && performance.now() - s.started < MAX_SCENARIO_MS; count++) {
    const mark = ++s.mark
    const id = ++b.nextId
    const client = b.session.client
    b.sent.add(mark)
    const sentAt = performance.now()
    b.pendingSince = sentAt
    try {
      const value = await b.session.act("mark", { n: mark })
      const at = performance.now()
      b.acks.push({ client, id, mark, value, at })
      b.flights.push({ sentAt, endAt: at, acked: true })
    } catch (error) {
      b.flights.push({ sentAt, endAt: performance.now(), acked: false })
      b.unanswered.add(mark)
      const code = (error as { code?: string }).code ?? String(error)
      b.errors[code] = (b.errors[code] ?? 0) + 1
      if (s.stop) break
      // The SDK gave up (a final close): take the seat again with a new client, a bounded number of times.
      if (b.session.status === "closed" && !(await rejoin(s, b))) break
    } finally {
      b.pendingSince = null
    }
    await Bun.sleep(PACE_MS * (1 + (Math.random() * 2) / 3))
  }
}

async function rejoin(s: Scenario, b: Bot): Promise<boolean> {
  while (b.rejoins < 8 && !s.stop) {
    b.rejoins++
    const attempt = join<typeof marks>({ url: s.cluster.urls[b.slot], session: b.sessionId, player: b.player, backoffMs: 20, maxBackoffMs: 300, direct: false })
    const session = await Promise.race([attempt, Bun.sleep(3_000).then(() => undefined)]).catch(() => undefined)
    if (session) {
      b.session = session
      b.nextId = 0
      watchNotices(b)
      return true
    }
    void attempt.then((late) => late.close(), () => {})
    await Bun.sleep(200)
  }
  b.dead = `gave up after ${b.rejoins} rejoins`
  return false
}

/** Waits until every bot has `k` more acks than now; returns the bots that did not (empty: all did). */
async function progressed(s: Scenario, k: number, timeoutMs: number): Promise<Bot[]> {
  const base = s.bots.map((b) => b.acks.length)
  const behind = () => s.bots.filter((b, i) => b.acks.length < (base[i] as number) + k)
  await waitUntil(() => behind().length === 0, `every bot acts ${k} more times`, { timeoutMs, everyMs: 50 }).catch(() => {})
  return behind()
}

/**
 * Two nodes acting for one session, seen from outside: every 100 ms each
 * live node's own sessions (GET /sessions?local=1) and their revs. While two
 * nodes both host a session, each one whose rev advanced since its last look
 * applied (and acknowledged) actions of it; two such nodes over one stretch
 * of co-hosting are two owners acting at once. A frozen or fenced-off copy
 * that does not advance does not count (a handoff's source is frozen).
 */
class OwnershipWatch {
  #cluster: NetnsCluster
  #last = new Map<NodeProcess, Map<string, number>>()
  #timer: ReturnType<typeof setInterval> | undefined
  #busy = false
  /** session → the labels of the nodes seen acting for it at once, when first and last seen. */
  readonly dual = new Map<string, { nodes: Set<string>; first: number; last: number }>()
  /** session → nodes seen acting for it while another node also hosted it (the current stretch of co-hosting). */
  rounds = 0
  failedPolls = 0

  constructor(cluster: NetnsCluster) {
    this.#cluster = cluster
  }

  label(n: NodeProcess): string {
    return this.#cluster.label(n)
  }

  start(): void {
    this.#timer = setInterval(() => void this.poll(), 100)
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  async poll(): Promise<void> {
    if (this.#busy) return
    this.#busy = true
    try {
      const now = performance.now()
      const nodes = this.#cluster.live.map((i) => this.#cluster.slots[i] as NodeProcess)
      const answers = await Promise.all(
        nodes.map(async (n) => {
          try {
            const body = (await (await fetch(`${n.url}/sessions?local=1`, { signal: AbortSignal.timeout(1_000) })).json()) as { sessions: { id: string; rev: number }[] }
            return { n, sessions: new Map(body.sessions.map((x) => [x.id, x.rev])) }
          } catch {
            this.failedPolls++
            return undefined
          }
        }),
      )
      this.rounds++
      const hosts = new Map<string, { n: NodeProcess; advanced: boolean }[]>()
      for (const a of answers) {
        if (!a) continue
        const prev = this.#last.get(a.n)
        for (const [id, rev] of a.sessions) {
          const was = prev?.get(id)
          hosts.set(id, [...(hosts.get(id) ?? []), { n: a.n, advanced: was !== undefined && rev > was }])
        }
        this.#last.set(a.n, a.sessions)
      }
      for (const [id, list] of hosts) {
        if (list.length < 2) continue
        // Two owners act at once when both revs moved within one poll round. (Counting every node that
        // moved at any time while two listed the session flagged a handoff: the source's last actions
        // before it froze, then the target's first ones, seconds apart.)
        const moved = list.filter((h) => h.advanced).map((h) => this.label(h.n))
        if (moved.length < 2) continue
        const d = this.dual.get(id) ?? { nodes: new Set<string>(), first: now, last: now }
        for (const n of moved) d.nodes.add(n)
        d.last = now
        this.dual.set(id, d)
      }
    } finally {
      this.#busy = false
    }
  }
}

/** What the nodes' events say about who ran which session when. */
function ownershipFromEvents(s: Scenario) {
  type Interval = { node: string; from: number; to: number; via: string }
  const intervals = new Map<string, Interval[]>()
  const adoptions: { node: string; session: string; epoch: number; via: string }[] = []
  const fenced: { node: string; session: string; reason: string; time: number }[] = []
  for (const n of s.cluster.all) {
    const label = s.cluster.label(n)
    const open = new Map<string, { from: number; via: string }>()
    const end = s.cluster.exitedAt.get(n) ?? Date.now()
    for (const e of n.events) {
      if (e.t === "session-created") open.set(e.session, { from: e.time, via: "created" })
      else if (e.t === "session-adopted") {
        open.set(e.session, { from: e.time, via: e.via })
        adoptions.push({ node: label, session: e.session, epoch: e.epoch, via: e.via })
      } else if (e.t === "session-released") {
        const o = open.get(e.session)
        open.delete(e.session)
        if (o) intervals.set(e.session, [...(intervals.get(e.session) ?? []), { node: label, ...o, to: e.time }])
        if (/^fenced|superseded/.test(e.reason)) fenced.push({ node: label, session: e.session, reason: e.reason, time: e.time })
      }
    }
    for (const [session, o] of open) intervals.set(session, [...(intervals.get(session) ?? []), { node: label, ...o, to: end }])
  }
  // A failover or orphan adoption while the old owner still ran the session: two owners, for this long.
  const twoOwners: { session: string; nodes: string[]; ms: number }[] = []
  for (const [session, list] of intervals)
    for (const b of list) {
      if (b.via.startsWith("handoff") || b.via === "created") continue
      for (const a of list) {
        const ms = Math.min(a.to, b.to) - b.from
        if (a !== b && a.node !== b.node && a.from <= b.from && ms > 0) twoOwners.push({ session, nodes: [a.node, b.node], ms })
      }
    }
  // One epoch taken by two nodes: the epoch no longer names one owner. "concurrent" when both ran it at once.
  const byKey = new Map<string, Set<string>>()
  for (const a of adoptions) byKey.set(`${a.session}@${a.epoch}`, (byKey.get(`${a.session}@${a.epoch}`) ?? new Set()).add(a.node))
  const sameEpoch = [...byKey]
    .filter(([, nodes]) => nodes.size > 1)
    .map(([key, nodes]) => {
      const session = key.slice(0, key.lastIndexOf("@"))
      const held = (intervals.get(session) ?? []).filter((i) => nodes.has(i.node) && !i.via.startsWith("created"))
      const concurrent = held.some((a) => held.some((b) => a.node !== b.node && Math.min(a.to, b.to) > Math.max(a.from, b.from)))
      return { key, nodes: [...nodes], concurrent }
    })
  return { adoptions, fenced, twoOwners, sameEpoch }
}

interface Fault {
  /** When the fault began and ended (performance.now()). */
  at: number
  endedAt: number
  /** Bots grouped by the side of the fault their node was on. */
  sides: Record<string, number[]>
  /** Node slots on the minority side (their bots should get a notice). */
  minority: number[]
  extra?: Record<string, unknown>
  /** A crash, not a partition: its sessions move only after the failure timeout, so recovery counts from there. */
  crash?: boolean
  /**
   * "local" durability: acks lost are allowed if they were given within this many ms of the fault's
   * start (the cut-off owner's lease); they are counted apart. Any other loss still fails.
   */
  localLossWithinMs?: number
}

/** Ends the scenario: recovery, final state, the checks; prints the figures; returns the failed checks. */
async function finish(s: Scenario, fault: Fault): Promise<string[]> {
  const failures: string[] = []
  const { cluster, bots } = s

  // d. every bot acts again after the fault ends.
  let recoveryMs: number | null = null
  await waitUntil(() => bots.every((b) => b.dead || b.acks.some((a) => a.at > fault.endedAt)), "every bot acts again after the fault", { timeoutMs: RECOVERY_WAIT_MS, everyMs: 20 }).catch(() => {})
  const firstAfter = bots.map((b) => b.acks.find((a) => a.at > fault.endedAt)?.at)
  const stalled = bots.filter((_, i) => firstAfter[i] === undefined)
  if (stalled.length === 0) recoveryMs = Math.round(Math.max(...firstAfter.map((t) => (t as number) - fault.endedAt)))
  if (recoveryMs === null) failures.push(`d: ${stalled.length} bots (${new Set(stalled.map((b) => b.sessionId)).size} sessions) did not act within ${RECOVERY_WAIT_MS / 1000} s of the fault's end (e.g. ${stalled.slice(0, 3).map((b) => `${b.sessionId}/${b.player}@slot${b.slot} status=${b.session.status} pending=${b.session.pendingCount}${b.dead ? ` ${b.dead}` : ""}`).join(", ")})`)
  else if (recoveryMs > RECOVERY_LIMIT_MS + (fault.crash ? FAILURE_MS : 0)) {
    const slowest = bots
      .map((b, i) => ({ b, ms: (firstAfter[i] as number) - fault.endedAt }))
      .sort((x, y) => y.ms - x.ms)
      .slice(0, 4)
      .map(({ b, ms }) => `${b.sessionId}/${b.player}@slot${b.slot} ${Math.round(ms)} ms`)
    failures.push(`d: every bot acted again only ${recoveryMs} ms after the fault's end (limit ${RECOVERY_LIMIT_MS + (fault.crash ? FAILURE_MS : 0)}; slowest: ${slowest.join(", ")})`)
  }
  const behind = stalled.length ? [] : await progressed(s, 3, 15_000)
  if (behind.length) failures.push(`d: ${behind.length} bots did not make 3 more acks after recovering`)

  s.stop = true
  s.watch.stop()
  for (const b of bots) b.session.close()
  await Promise.all(s.loops)
  await s.watch.poll().catch(() => {})

  // Actions in flight when the bots closed may still land: read once no node's sessions change any more.
  const revs = async () =>
    JSON.stringify(
      await Promise.all(cluster.live.map(async (i) => ((await (await fetch(`${cluster.urls[i]}/sessions?local=1`, { signal: AbortSignal.timeout(2_000) })).json()) as { sessions: { id: string; rev: number }[] }).sessions.map((x) => `${x.id}:${x.rev}`).sort())),
    )
  let lastRevs = ""
  const quiet = await waitUntil(
    async () => {
      const now = await revs()
      const same = now === lastRevs
      lastRevs = now
      return same
    },
    "no session changes",
    { timeoutMs: 10_000, everyMs: 300 },
  ).catch(() => false)
  if (!quiet) failures.push("views: sessions kept changing for 10 s after every player closed")

  // The final state of each session, as every live node shows it (a fresh observer each).
  const live = cluster.live
  const views = new Map<string, (Record<string, number[]> | undefined)[]>()
  const readStarted = performance.now()
  await Promise.all(
    s.ids.map(async (id) => {
      const list: (Record<string, number[]> | undefined)[] = []
      for (const i of live) {
        const attempt = join<typeof marks>({ url: cluster.urls[i], session: id, player: "observer", backoffMs: 20, maxBackoffMs: 300, direct: false })
        const observer = await Promise.race([attempt, Bun.sleep(10_000).then(() => undefined)]).catch(() => undefined)
        if (!observer) void attempt.then((late) => late.close(), () => {})
        list.push(observer?.state.marks)
        observer?.close()
      }
      views.set(id, list)
    }),
  )
  const readMs = Math.round(performance.now() - readStarted)
  const divergent = [...views].filter(([, vs]) => vs.some((v) => JSON.stringify(v) !== JSON.stringify(vs[0])))
  const unreadable = [...views].filter(([, vs]) => vs.some((v) => v === undefined))
  if (unreadable.length) failures.push(`views: ${unreadable.length} sessions could not be joined through every live node after recovery (gone? e.g. ${unreadable[0]?.[0]})`)
  if (divergent.length)
    failures.push(
      `views: ${divergent.length} sessions show different states through different nodes after recovery (e.g. ${divergent[0]?.[0]}: marks per player through ${live.map((i) => `slot${i}`).join(", ")}: ${divergent[0]?.[1].map((v) => JSON.stringify(Object.fromEntries(Object.entries(v ?? {}).map(([p, xs]) => [p, xs.length])))).join(" vs ")})`,
    )

  // a/b. acknowledged = present exactly once, in order; nothing acked as something else; nothing never sent.
  let lost = 0
  let lostAllowed = 0
  let doubled = 0
  let wrongAcks = 0
  let answeredWithoutValue = 0
  const lostSessions = new Set<string>()
  let phantom = 0
  let outOfOrder = 0
  let unackedApplied = 0
  const lostBySide: Record<string, number> = {}
  const examples: string[] = []
  const wrongExamples: string[] = []
  for (const b of bots) {
    const final = views.get(b.sessionId)?.[0]?.[b.player] ?? []
    const count = new Map<number, number>()
    for (const x of final) count.set(x, (count.get(x) ?? 0) + 1)
    const ackedMarks = b.acks.map((a) => a.mark)
    const ackedSet = new Set(ackedMarks)
    const allowed = (m: number) => {
      const at = b.acks.find((a) => a.mark === m)?.at ?? Number.NaN
      return fault.localLossWithinMs !== undefined && at >= fault.at - 100 && at <= fault.at + fault.localLossWithinMs
    }
    lostAllowed += ackedMarks.filter((m) => !count.has(m) && allowed(m)).length
    const missing = ackedMarks.filter((m) => !count.has(m) && !allowed(m))
    lost += missing.length
    if (missing.length) lostSessions.add(b.sessionId)
    const side = Object.entries(fault.sides).find(([, slots]) => slots.includes(b.slot))?.[0] ?? "?"
    if (missing.length) lostBySide[side] = (lostBySide[side] ?? 0) + missing.length
    if (missing.length && examples.length < 4) examples.push(`${b.sessionId}/${b.player}@slot${b.slot}: acked ${missing.length} marks missing (first ${missing.slice(0, 5).join(",")}; acked at +${Math.round((b.acks.find((a) => a.mark === missing[0])?.at ?? 0) - fault.at)} ms from the fault)`)
    const twice = [...count].filter(([, c]) => c > 1)
    doubled += twice.length
    if (twice.length && examples.length < 6) examples.push(`${b.sessionId}/${b.player}: marks applied twice: ${twice.slice(0, 5).map(([m]) => m).join(",")}`)
    for (const a of b.acks)
      if (a.value === undefined && count.has(a.mark)) answeredWithoutValue++ // docs/games.md: an id older than the client's last 64 is answered ok without its value
      else if (a.value !== a.mark) {
        wrongAcks++
        if (wrongExamples.length < 3) wrongExamples.push(`${b.sessionId}/${b.player}@slot${b.slot} action ${a.id} sent mark ${a.mark}, ack said ${JSON.stringify(a.value)} (+${Math.round(a.at - fault.at)} ms)`)
      }
    for (const x of final) if (!b.sent.has(x)) phantom++
    for (const x of final) if (!ackedSet.has(x) && b.unanswered.has(x)) unackedApplied++
    const inState = final.filter((x) => ackedSet.has(x))
    if (missing.length === 0 && JSON.stringify(inState) !== JSON.stringify(ackedMarks.filter((m) => count.has(m)))) outOfOrder++
  }
  if (lost) failures.push(`a: ${lost} acknowledged actions lost (by the side of the fault their player was on: ${JSON.stringify(lostBySide)}); ${examples.filter((e) => e.includes("missing")).join("; ")}`)
  if (doubled) failures.push(`a: ${doubled} marks applied twice; ${examples.filter((e) => e.includes("twice")).join("; ")}`)
  if (wrongAcks) failures.push(`b: ${wrongAcks} acks carried another action's answer (an action id acknowledged for two actions): ${wrongExamples.join("; ")}`)
  if (phantom) failures.push(`b: ${phantom} marks in the state that no bot sent`)
  if (outOfOrder) failures.push(`b: ${outOfOrder} bots' acknowledged marks are in the state out of order`)

  // c. never two nodes acting for one session.
  const fromEvents = ownershipFromEvents(s)
  const dual = [...s.watch.dual]
  // Fencing that threw acknowledged actions away: a session released as fenced whose players lost acks.
  const fencedWithLostAcks = [...new Set(fromEvents.fenced.filter((f) => lostSessions.has(f.session)).map((f) => f.session))]
  if (dual.length)
    failures.push(
      `c: ${dual.length} sessions had two nodes applying actions at once (seen by polling /sessions?local=1; e.g. ${dual
        .slice(0, 2)
        .map(([id, d]) => `${id} on ${[...d.nodes].join("+")} for ${Math.round(d.last - d.first)} ms from +${Math.round(d.first - fault.at)} ms`)
        .join("; ")})`,
    )
  const sameEpochConcurrent = fromEvents.sameEpoch.filter((x) => x.concurrent)
  if (sameEpochConcurrent.length) failures.push(`c: ${sameEpochConcurrent.length} sessions adopted by two nodes at one epoch while both ran them (${sameEpochConcurrent.slice(0, 2).map((x) => `${x.key} by ${x.nodes.join("+")}`).join("; ")})`)
  if (fencedWithLostAcks.length)
    failures.push(
      `c: ${fencedWithLostAcks.length} sessions were fenced on a node that had acknowledged actions the new owner never had (${fencedWithLostAcks
        .slice(0, 2)
        .map((id) => {
          const f = fromEvents.fenced.find((x) => x.session === id)
          const o = fromEvents.twoOwners.find((x) => x.session === id)
          return `${id}: released on ${f?.node} as "${f?.reason}"${o ? `; ${o.nodes[1]} had adopted it (failover) while ${o.nodes[0]} still ran it, for ${Math.round(o.ms)} ms` : ""}`
        })
        .join("; ")})`,
    )

  // e. players on the minority side told within a second.
  let notice: unknown = "notice API missing"
  if (fault.minority.length) {
    if (!noticeApi()) failures.push("e: the SDK has no notice API (session.onNotice)")
    else {
      const minority = bots.filter((b) => fault.minority.includes(b.slot))
      const latencies: number[] = []
      let untold = 0
      let waiting = 0
      const lateOnes: string[] = []
      const untoldOnes: string[] = []
      for (const b of minority) {
        // The first action that waited over a second during the fault; the notice is measured from the cut, or from its send if later.
        const flight = b.flights.find((f) => f.endAt > fault.at && Math.max(f.sentAt, fault.at) < fault.endedAt && f.endAt - Math.max(f.sentAt, fault.at) > 1_000)
        if (!flight) continue // acted through the fault: nothing to tell
        waiting++
        const from = Math.max(flight.sentAt, fault.at)
        // Told: a notice after the cut, or one still showing from before it (the SDK repeats no notice it shows).
        const showing = b.notices.filter((n) => n.at < from).at(-1)
        const first = showing && showing.code !== "resolved" ? { at: from, code: showing.code } : b.notices.find((n) => n.at >= fault.at && n.code !== "resolved")
        if (first) {
          latencies.push(Math.round(Math.max(0, first.at - from)))
          if (first.at - from > NOTICE_LIMIT_MS) lateOnes.push(`${b.sessionId}/${b.player}@slot${b.slot} ${Math.round(first.at - from)} ms (${first.code})`)
        } else {
          untold++
          // What it saw, for the failure message: its notices (ms from the cut), the wait, what it shows now.
          const seen = b.notices.map((n) => `${n.code}@${Math.round(n.at - fault.at)}`).join(" ") || "none"
          untoldOnes.push(`${b.sessionId}/${b.player}@slot${b.slot} waited ${Math.round(flight.endAt - from)} ms from ${Math.round(from - fault.at)} ms; notices ${seen}; now ${b.session.notice?.code ?? "none"}`)
        }
      }
      latencies.sort((x, y) => x - y)
      notice = { minorityBots: minority.length, waiting, told: latencies.length, untold, maxMs: latencies.at(-1) ?? null, medianMs: latencies[Math.floor(latencies.length / 2)] ?? null }
      if (untold) failures.push(`e: ${untold} minority-side bots with an action pending got no notice (${untoldOnes.slice(0, 4).join("; ")})`)
      if (latencies.some((l) => l > NOTICE_LIMIT_MS)) failures.push(`e: a minority-side bot was told only ${Math.max(...latencies)} ms after the cut (limit ${NOTICE_LIMIT_MS}; late: ${lateOnes.slice(0, 4).join(", ")})`)
    }
  } else notice = "n/a (no minority side)"

  const inFault = (b: Bot) => b.acks.filter((a) => a.at >= fault.at && a.at <= fault.endedAt).length
  const acksDuringFault = Object.fromEntries(Object.entries(fault.sides).map(([side, slots]) => [side, bots.filter((b) => slots.includes(b.slot)).reduce((n, b) => n + inFault(b), 0)]))
  let longestWaitMs = 0
  for (const b of bots) for (let i = 1; i < b.acks.length; i++) longestWaitMs = Math.max(longestWaitMs, (b.acks[i] as Ack).at - (b.acks[i - 1] as Ack).at)
  const errors: Record<string, number> = {}
  for (const b of bots) for (const [k, v] of Object.entries(b.errors)) errors[k] = (errors[k] ?? 0) + v
  const figures = {
    scenario: s.name,
    sessions: SESSIONS,
    bots: bots.length,
    faultMs: Math.round(fault.endedAt - fault.at),
    // Wall-clock times, to read the nodes' events and logs (their "time" fields) against.
    faultFrom: wall(fault.at),
    faultTo: wall(fault.endedAt),
    acks: bots.reduce((n, b) => n + b.acks.length, 0),
    acksDuringFault,
    lost,
    lostBySide,
    ...(fault.localLossWithinMs !== undefined ? { localLostWithinLease: lostAllowed } : {}),
    doubled,
    wrongAcks,
    phantom,
    unackedApplied,
    recoveryMs,
    longestWaitMs: Math.round(longestWaitMs),
    notice,
    answeredWithoutValue,
    dualActingSessions: dual.length,
    twoOwnersInEvents: new Set(fromEvents.twoOwners.map((o) => o.session)).size,
    twoOwnersLongestMs: Math.round(Math.max(0, ...fromEvents.twoOwners.map((o) => o.ms))),
    sameEpochAdoptions: { concurrent: sameEpochConcurrent.length, afterTheFirstHolderDied: fromEvents.sameEpoch.length - sameEpochConcurrent.length },
    fencedReleases: fromEvents.fenced.length,
    fencedWithLostAcks: fencedWithLostAcks.length,
    failoverAdoptions: fromEvents.adoptions.filter((a) => !a.via.startsWith("handoff")).length,
    handoffAdoptions: fromEvents.adoptions.filter((a) => a.via.startsWith("handoff")).length,
    divergentViews: divergent.length,
    unreadableViews: unreadable.length,
    sdkErrors: errors,
    rejoins: bots.reduce((n, b) => n + b.rejoins, 0),
    setupMs: Math.round(s.setupMs),
    finalReadMs: readMs,
    watchRounds: s.watch.rounds,
    watchFailedPolls: s.watch.failedPolls,
    ...fault.extra,
  }
  console.log(`partition figures: ${JSON.stringify(figures)}`)
  if (failures.length) {
    console.log(`partition checks failed (${s.name}):\n  ${failures.join("\n  ")}`)
    if (process.env.BATON_PARTITION_LOGS) {
      const { mkdirSync, writeFileSync } = await import("node:fs")
      const dir = `${process.env.BATON_PARTITION_LOGS}/${s.name.replace(/\W+/g, "-")}`
      mkdirSync(dir, { recursive: true })
      for (const n of cluster.all) {
        writeFileSync(`${dir}/${cluster.label(n)}.jsonl`, n.logs.map((l) => JSON.stringify(l)).join("\n"))
        writeFileSync(`${dir}/${cluster.label(n)}.events.jsonl`, n.events.map((e) => JSON.stringify(e)).join("\n"))
        writeFileSync(`${dir}/${cluster.label(n)}.stderr`, n.stderr())
      }
      const lostAcks = bots.flatMap((b) => b.acks.filter((a) => !(views.get(b.sessionId)?.[0]?.[b.player] ?? []).includes(a.mark)).map((a) => ({ session: b.sessionId, player: b.player, slot: b.slot, mark: a.mark, id: a.id, ackedAt: wall(a.at) })))
      writeFileSync(`${dir}/lost-acks.json`, JSON.stringify(lostAcks, null, 1))
      console.log(`logs, events and lost acks written to ${dir}`)
    }
  }
  for (const n of cluster.all) if (n.proc.exitCode !== null && n.proc.exitCode !== 0 && n.proc.signalCode !== "SIGKILL") console.log("NODE DIED", n.url, n.proc.exitCode, n.stderr().slice(-2000))
  await cluster.killAll()
  lab?.heal()
  return failures
}

const ALL = [0, 1, 2]
/** A performance.now() time as a wall-clock ISO time. */
const wall = (t: number) => new Date(Date.now() - (performance.now() - t)).toISOString()
const sideNames = (isolated: number) => ({ [`isolated slot${isolated}`]: [isolated], majority: ALL.filter((i) => i !== isolated) })

// Partitions during a drain, a crash of the drain's target and "local" durability's lease-bounded loss are
// scenarios on the simulator (tests/cluster/scenarios.test.ts); here, what only real kernels and sockets show.
describe.skipIf(!support.ok)("partitions between real node processes (network namespaces, iptables)", () => {
  test("symmetric 2|1 partition: C cut from A and B under load, then healed", async () => {
    const s = await startScenario("symmetric 2|1", 0)
    const l = lab as NetnsLab
    const at = performance.now()
    l.isolate(2)
    await Bun.sleep(FAULT_MS) // the fault's length, by design
    l.heal()
    const failures = await finish(s, { at, endedAt: performance.now(), sides: sideNames(2), minority: [2] })
    expect(failures).toEqual([])
  }, 120_000)

  test("one-way partition: C → A dropped (A → C passes at packet level), then healed", async () => {
    const s = await startScenario("one-way C->A", 1)
    const l = lab as NetnsLab
    const at = performance.now()
    l.cut(2, 0, { oneWay: true })
    await Bun.sleep(FAULT_MS)
    l.heal()
    // No node lacks a majority here (each still reaches B): the notice check is on C's players whose action waits over a second.
    const failures = await finish(s, { at, endedAt: performance.now(), sides: { "slot2 (sender cut)": [2], "slot0 (receiver cut)": [0], "slot1 (untouched)": [1] }, minority: [2] })
    expect(failures).toEqual([])
  }, 120_000)

  test.skipIf(!FULL)("a CPU hog (one busy process per core), no network fault", async () => {
    const s = await startScenario("CPU hog", 4)
    const at = performance.now()
    const hog = cpuHog(FAULT_MS)
    await Bun.sleep(FAULT_MS)
    await hog.stop()
    const downs = s.cluster.all.flatMap((n) => n.eventsOf("member-down", (e) => e.time >= Date.now() - FAULT_MS - 1_000))
    const failures = await finish(s, { at, endedAt: performance.now(), sides: { all: ALL }, minority: [], extra: { hogs: navigator.hardwareConcurrency, nodeDownVerdicts: downs.length } })
    expect(failures).toEqual([])
  }, 120_000)
})
