import { expect, test } from "bun:test"
import type { Cluster } from "../../framework/cluster/cluster.ts"
import type { NodePort } from "../../framework/cluster/port.ts"
import { Relays } from "../../framework/cluster/relay.ts"
import { createLogger } from "../../framework/log/index.ts"
import type { PlayerLink } from "../../framework/protocol/index.ts"

const SELF = "n-bbbbbbbb"
const PEER = "n-aaaaaaaa"

type Sent = [peer: string, name: string, body: { conn: string; msg?: { t: string } }]

/** Relays over a cluster and a node made of their parts this module touches: frames, a clock moved by hand. */
function world(opts: { linkOpen?: boolean } = {}) {
  const handlers = new Map<string, (from: string, body: never, via?: unknown) => void>()
  const sent: Sent[] = []
  const state = { linkOpen: opts.linkOpen ?? true, now: 0 }
  const timers: { at: number; fn: () => void }[] = []
  const opened: PlayerLink[] = []
  const cluster = {
    receive: (name: string, fn: (from: string, body: never, via?: unknown) => void) => void handlers.set(name, fn),
    on: () => {},
    member: (id: string) => (id === PEER ? { id, up: true } : undefined),
    send: (peer: string, name: string, body: Sent[2]) => (state.linkOpen ? (sent.push([peer, name, body]), true) : false),
  }
  const clock = { now: () => state.now, setTimeout: (fn: () => void, ms: number) => timers.push({ at: state.now + ms, fn }), clearTimeout: () => {} }
  const node = {
    id: SELF,
    clock,
    log: createLogger({}, "silent"),
    store: { onEntriesChanged: () => {}, entry: () => ({ status: "open" }) },
    hasSession: () => false,
    open: (link: PlayerLink) => void opened.push(link),
    handle: () => {},
    close: () => {},
  }
  const relays = new Relays(cluster as unknown as Cluster, node as unknown as NodePort, async () => PEER)
  return {
    relays,
    sent,
    opened,
    state,
    deliver: (name: string, body: unknown) => handlers.get(name)?.(PEER, body as never, {}),
    async advance(ms: number) {
      state.now += ms
      const due = timers.filter((t) => t.at <= state.now).sort((a, b) => a.at - b.at)
      timers.splice(0, timers.length, ...timers.filter((t) => t.at > state.now))
      for (const t of due) t.fn()
      await Bun.sleep(0)
    },
  }
}

test("an owner told a relay ended before its open arrives (end on the new link, open on the retired one) never opens it", () => {
  // The review of 2f7c48c (a link replaced counts as lost): the end overtook the open, which then made a player nobody reads, for good.
  const { deliver, opened } = world()
  const join = { t: "join", session: "s1", player: "p1" }

  deliver("relay-end", { conn: "old" })
  deliver("relay-open", { conn: "old", msg: join })
  expect(opened.length).toBe(0)

  // Remembered once: a later relay under another conn opens as usual, and so does a reuse of the same conn.
  deliver("relay-open", { conn: "new", msg: join })
  deliver("relay-open", { conn: "old", msg: join })
  expect(opened.length).toBe(2)
})

test("a relay whose open found no link to its owner (up, redialling) opens again shortly, with what its player sent meanwhile", async () => {
  // Before, nothing sent the open again: the player waited for STUCK_MS (5 s) on an owner it could reach.
  const { relays, sent, state, advance } = world({ linkOpen: false })
  const player: PlayerLink = { relayed: false, send: () => {}, close: () => {} }
  const forward = await relays.join(player, { t: "join", session: "s1", player: "p1" } as never)
  expect(forward).toBeDefined()
  forward?.({ t: "act", id: 1, name: "add", input: { n: 1 } } as never)
  expect(sent.length).toBe(0)

  state.linkOpen = true
  await advance(300)
  await Bun.sleep(0)
  const names = sent.map(([, name, body]) => `${name}:${body.msg?.t}`)
  expect(names[0]).toBe("relay-open:join")
  expect(names).toContain("relay-in:act")
  expect(new Set(sent.map(([peer]) => peer))).toEqual(new Set([PEER]))
})

test("a relay that sent a leave on joins the session's next owner only to give the seat up", async () => {
  // The owner applied the leave, its "left" waited for a replica, and the session moved: the relay replayed
  // the plain join, which seated the player again (the game's onJoin), and the SDK left again (found in review).
  const { relays, sent, deliver } = world()
  const player: PlayerLink = { relayed: false, send: () => {}, close: () => {} }
  const forward = await relays.join(player, { t: "join", session: "s1", player: "p1", client: "c1" } as never)
  const conn = sent[0]?.[2].conn
  deliver("relay-out", { conn, frame: '{"t":"joined","session":"s1"}' })
  forward?.({ t: "leave" })
  deliver("relay-close", { conn, code: 4010, reason: "moved", to: PEER })
  await Bun.sleep(0)
  const opens = sent.filter(([, name]) => name === "relay-open").map(([, , body]) => body.msg)
  expect(opens).toHaveLength(2)
  expect(opens[0]).not.toHaveProperty("leave")
  expect(opens[1]).toMatchObject({ t: "join", session: "s1", player: "p1", client: "c1", leave: true })
})
