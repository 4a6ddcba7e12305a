import { describe, expect, test } from "bun:test"
import { type SessionRecord, Session } from "batonjs"
import memory, { type MemoryState, type MemoryView, SHOW_MS, TURN_MS } from "../../app/games/memory.ts"
import v1Sessions from "../fixtures/memory/v1-records.json"

const T0 = 1_700_000_000_000
let nextId = 1

function table(players: string[] = ["ada", "bob"], seed = "memory-seed-1", options?: unknown): Session<typeof memory> {
  const s = Session.create(memory, { id: `m-${seed}`, now: T0, seed, options })
  for (const p of players) expect(s.join(p, T0)).toMatchObject({ ok: true })
  return s
}

function act(s: Session<typeof memory>, player: string, name: string, input: unknown, now = T0) {
  return s.act({ player, client: `client-${player}`, id: nextId++, name, input, now })
}

const stateOf = (s: Session<typeof memory>) => s.record.state as MemoryState
const viewOf = (s: Session<typeof memory>, p: string) => s.view(p) as MemoryView

/** Two indices of the same face and two of different faces, read from the full (server-side) state. */
function pairsOf(s: Session<typeof memory>) {
  const cards = stateOf(s).cards
  const byFace = new Map<number, number[]>()
  cards.forEach((c, i) => byFace.set(c.face, [...(byFace.get(c.face) ?? []), i]))
  const pairs = [...byFace.values()] as [number, number][]
  const [a0] = pairs[0] as [number, number]
  const [b0] = pairs[1] as [number, number]
  return { pairs, miss: [a0, b0] as [number, number] }
}

describe("memory: setup", () => {
  test("the deck holds each face exactly twice, shuffled by the seed", () => {
    const s = table([])
    const faces = stateOf(s).cards.map((c) => c.face)
    expect(faces).toHaveLength(16)
    expect([...faces].sort((a, b) => a - b)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7])
    expect(faces).not.toEqual([...faces].sort((a, b) => a - b))
    // Same seed, same deck; another seed, another deck.
    expect(stateOf(table([], "memory-seed-1")).cards).toEqual(stateOf(s).cards)
    expect(stateOf(table([], "memory-seed-2")).cards).not.toEqual(stateOf(s).cards)
  })

  test("options choose the number of pairs and are validated", () => {
    expect(stateOf(table([], "p", { pairs: 3 })).cards).toHaveLength(6)
    expect(() => Session.create(memory, { id: "bad", now: T0, options: { pairs: 99 } })).toThrow(/pairs/)
  })
})

describe("memory: hidden information", () => {
  test("views of face-down cards carry no face, and do not depend on the deck", () => {
    const a = table(["ada", "bob"], "deck-a")
    const b = table(["ada", "bob"], "deck-b")
    expect(stateOf(a).cards).not.toEqual(stateOf(b).cards)
    for (const p of ["ada", "bob"]) {
      const view = viewOf(a, p)
      expect(view.cards.every((c) => c.face === null && !c.up)).toBe(true)
      // Two different decks look exactly alike: nothing in the view leaks the order.
      expect(viewOf(a, p)).toEqual(viewOf(b, p))
    }
    expect(act(a, "ada", "start", {})).toEqual({ ok: true })
    expect(act(b, "ada", "start", {})).toEqual({ ok: true })
    expect(viewOf(a, "bob")).toEqual(viewOf(b, "bob"))
  })

  test("a flipped card shows its face to everyone; the others stay hidden", () => {
    const s = table()
    act(s, "ada", "start", {})
    const truth = stateOf(s).cards
    const out = act(s, "ada", "flip", { index: 5 })
    expect(out).toEqual({ ok: true, value: { face: truth[5]?.face } })
    for (const p of ["ada", "bob"]) {
      const cards = viewOf(s, p).cards
      expect(cards[5]).toEqual({ face: truth[5]?.face as number, up: true, matchedBy: null })
      expect(cards.filter((c) => c.face !== null)).toHaveLength(1)
    }
  })

  test("a missed pair is hidden again once it has been on show", () => {
    const s = table()
    act(s, "ada", "start", {})
    const { miss } = pairsOf(s)
    act(s, "ada", "flip", { index: miss[0] })
    act(s, "ada", "flip", { index: miss[1] })
    expect(viewOf(s, "bob").cards.filter((c) => c.face !== null)).toHaveLength(2)
    s.advance(T0 + SHOW_MS)
    for (const p of ["ada", "bob"]) expect(viewOf(s, p).cards.every((c) => c.face === null)).toBe(true)
  })
})

describe("memory: rules", () => {
  test("rule violations are rejected with a code and change nothing", () => {
    const s = table(["ada"])
    expect(act(s, "ada", "flip", { index: 0 })).toMatchObject({ ok: false, code: "not_started" })
    expect(act(s, "ada", "start", {})).toMatchObject({ ok: false, code: "not_enough_players" })
    expect(s.join("bob", T0)).toMatchObject({ ok: true })
    expect(act(s, "ada", "start", {})).toEqual({ ok: true })
    expect(act(s, "bob", "start", {})).toMatchObject({ ok: false, code: "already_started" })
    expect(s.join("cy", T0)).toMatchObject({ ok: false, code: "game_started" })

    const before = s.record.state
    expect(act(s, "bob", "flip", { index: 0 })).toMatchObject({ ok: false, code: "not_your_turn" })
    expect(act(s, "ada", "flip", { index: 16 })).toMatchObject({ ok: false, code: "no_such_card" })
    expect(act(s, "ada", "flip", { index: -1 })).toMatchObject({ ok: false, code: "invalid_input" })
    expect(act(s, "ada", "flip", { index: 1.5 })).toMatchObject({ ok: false, code: "invalid_input" })
    expect(s.record.state).toBe(before)

    expect(act(s, "ada", "flip", { index: 3 })).toMatchObject({ ok: true })
    expect(act(s, "ada", "flip", { index: 3 })).toMatchObject({ ok: false, code: "card_up" })
  })

  test("a miss is shown, blocks flips, then passes the turn", () => {
    const s = table()
    act(s, "ada", "start", {})
    s.takeEvents()
    const { miss } = pairsOf(s)
    act(s, "ada", "flip", { index: miss[0] })
    expect(act(s, "ada", "flip", { index: miss[1] })).toEqual({ ok: true, value: { face: stateOf(s).cards[miss[1]]?.face, match: false } })
    expect(s.takeEvents().map((e) => e.event)).toEqual(["miss"])
    expect(stateOf(s)).toMatchObject({ showing: true, turns: { current: "ada" } })
    expect(act(s, "ada", "flip", { index: 0 })).toMatchObject({ ok: false, code: "wait" })

    // The clock stops while the pair is on show.
    expect(stateOf(s).turns.endsAt).toBeNull()
    expect(s.record.timers.map((t) => t.name)).toEqual(["showOver"])
    s.advance(T0 + SHOW_MS - 1)
    expect(stateOf(s).showing).toBe(true)
    s.advance(T0 + SHOW_MS)
    expect(stateOf(s)).toMatchObject({ showing: false, turns: { current: "bob" }, flipped: [] })
    expect(s.takeEvents()).toEqual([{ event: "turn", data: { player: "bob" }, to: null }])
    expect(act(s, "bob", "flip", { index: miss[0] }, T0 + SHOW_MS + 10)).toMatchObject({ ok: true })
  })

  test("a match scores and the same player goes again", () => {
    const s = table()
    act(s, "ada", "start", {})
    s.takeEvents()
    const [a, b] = pairsOf(s).pairs[2] as [number, number]
    const face = stateOf(s).cards[a]?.face as number
    act(s, "ada", "flip", { index: a })
    expect(act(s, "ada", "flip", { index: b })).toMatchObject({ ok: true, value: { match: true } })
    expect(s.takeEvents()).toEqual([{ event: "match", data: { player: "ada", cards: [a, b], face }, to: null }])
    expect(stateOf(s)).toMatchObject({ turns: { current: "ada" }, scores: { ada: 1, bob: 0 }, flipped: [] })
    expect(viewOf(s, "bob").cards[a]).toEqual({ face, up: true, matchedBy: "ada" })
    expect(act(s, "ada", "flip", { index: a })).toMatchObject({ ok: false, code: "card_up" })
  })

  test("a full table of four starts by itself; a fifth player is refused", () => {
    const s = table(["a", "b", "c"])
    expect(stateOf(s).phase).toBe("waiting")
    expect(s.join("d", T0)).toMatchObject({ ok: true })
    expect(stateOf(s)).toMatchObject({ phase: "playing", turns: { current: "a", order: ["a", "b", "c", "d"] } })
    expect(s.join("e", T0)).toMatchObject({ ok: false, code: "session_full" })
  })
})

describe("memory: turn timeout", () => {
  test("a player who does not finish in time loses the turn; the card goes back", () => {
    const s = table(["ada", "bob", "cy"])
    act(s, "ada", "start", {})
    expect(stateOf(s).turns.endsAt).toBe(T0 + TURN_MS)
    act(s, "ada", "flip", { index: 0 }, T0 + 1000)
    s.takeEvents()
    s.advance(T0 + TURN_MS - 1)
    expect(stateOf(s).turns.current).toBe("ada")
    s.advance(T0 + TURN_MS)
    expect(stateOf(s)).toMatchObject({ turns: { current: "bob", endsAt: T0 + 2 * TURN_MS }, flipped: [] })
    expect(s.takeEvents().map((e) => [e.event, e.data])).toEqual([
      ["timeout", { player: "ada" }],
      ["turn", { player: "bob" }],
    ])
    expect(viewOf(s, "cy").cards.every((c) => c.face === null)).toBe(true)
    s.advance(T0 + 2 * TURN_MS)
    expect(stateOf(s).turns.current).toBe("cy")
    s.advance(T0 + 3 * TURN_MS)
    expect(stateOf(s).turns.current).toBe("ada")
  })

  test("a match restarts the clock", () => {
    const s = table()
    act(s, "ada", "start", {})
    const [a, b] = pairsOf(s).pairs[0] as [number, number]
    act(s, "ada", "flip", { index: a }, T0 + 20_000)
    act(s, "ada", "flip", { index: b }, T0 + 20_000)
    s.advance(T0 + TURN_MS)
    expect(stateOf(s).turns.current).toBe("ada")
    s.advance(T0 + 20_000 + TURN_MS)
    expect(stateOf(s).turns.current).toBe("bob")
    // Only one timeout fired: the stale one of the first try did nothing.
    expect(s.record.timers.filter((t) => t.name === "turnTimeout")).toHaveLength(1)
  })
})

describe("memory: players leaving", () => {
  test("leaving on your turn passes it on; the last one left wins", () => {
    const s = table(["ada", "bob", "cy"])
    act(s, "ada", "start", {})
    act(s, "ada", "flip", { index: 0 })
    expect(s.leave("ada", T0 + 10)).toMatchObject({ ok: true })
    expect(stateOf(s)).toMatchObject({ turns: { current: "bob", order: ["bob", "cy"] }, flipped: [] })
    expect(s.leave("cy", T0 + 20)).toMatchObject({ ok: true })
    expect(s.ended).toBe(true)
    expect(s.record.result).toEqual({ winners: ["bob"], scores: { ada: 0, bob: 0, cy: 0 }, reason: "opponents_left" })
  })
})

/**
 * Plays a whole game with players who remember every face they saw, using
 * only what their views and the flip answers show them.
 */
function playToTheEnd(seed: string, players: string[]) {
  const s = table(players, seed)
  let now = T0
  act(s, players[0] as string, "start", {}, now)
  const seen = new Map<number, number>() // index -> face, as learned from views
  const events: string[] = []
  const flip = (player: string, index: number) => {
    const out = act(s, player, "flip", { index }, now)
    expect(out.ok).toBe(true)
    for (const [i, c] of viewOf(s, player).cards.entries()) if (c.face !== null) seen.set(i, c.face)
    events.push(...s.takeEvents().map((e) => e.event))
  }
  for (let guard = 0; !s.ended && guard < 500; guard++) {
    now += 100
    const view = viewOf(s, players[0] as string)
    const player = view.turn as string
    const hidden = view.cards.flatMap((c, i) => (c.up ? [] : [i]))
    const known = hidden.filter((i) => seen.has(i))
    const knownPair = known.flatMap((i) => known.filter((j) => j > i && seen.get(j) === seen.get(i)).map((j) => [i, j]))[0]
    if (knownPair) {
      flip(player, knownPair[0] as number)
      flip(player, knownPair[1] as number)
    } else {
      const first = hidden.find((i) => !seen.has(i)) as number
      flip(player, first)
      const face = seen.get(first)
      const mate = hidden.find((i) => i !== first && seen.get(i) === face)
      flip(player, mate ?? (hidden.find((i) => i !== first && !seen.has(i)) as number))
    }
    if (stateOf(s).showing) {
      now += SHOW_MS
      s.advance(now)
      events.push(...s.takeEvents().map((e) => e.event))
    }
  }
  return { s, events }
}

describe("memory: a whole game", () => {
  test("is played to the end and ends with winners and scores", () => {
    const { s, events } = playToTheEnd("full-game-seed", ["ada", "bob"])
    expect(s.ended).toBe(true)
    const st = stateOf(s)
    const result = s.record.result as { winners: string[]; scores: Record<string, number>; reason: string }
    expect(result.reason).toBe("all_pairs_found")
    expect(Object.values(result.scores).reduce((a, b) => a + b, 0)).toBe(8)
    const best = Math.max(...Object.values(result.scores))
    expect(result.winners).toEqual(Object.keys(result.scores).filter((p) => result.scores[p] === best))
    expect(st).toMatchObject({ phase: "ended", turns: { current: null, endsAt: null }, winners: result.winners })
    expect(st.cards.every((c) => c.matchedBy !== null)).toBe(true)
    expect(events.filter((e) => e === "match")).toHaveLength(8)
    expect(events).toContain("miss")
    expect(s.record.timers).toEqual([])
    expect(act(s, "ada", "flip", { index: 0 })).toMatchObject({ ok: false, code: "session_ended" })
  })

  test("the same seed and moves replay the same game", () => {
    const one = playToTheEnd("replay-seed", ["ada", "bob", "cy"])
    const two = playToTheEnd("replay-seed", ["ada", "bob", "cy"])
    expect(two.s.record.result).toEqual(one.s.record.result)
    expect(two.events).toEqual(one.events)
  })
})

/**
 * Sessions stored by version 1 (turn kept by hand: order, turn, turnNo,
 * turnEndsAt; timers' payload `{ turnNo }`), resumed by version 2 (`turns`):
 * what a node running version 2 does with them after a rolling deploy.
 * tests/fixtures/memory/v1-records.json was recorded from app/games/memory.ts
 * at version 1 (commit 130bfab), three players, with what bob saw then: in
 * `turn` ada found a pair at T0+2s and flipped one card more; in `show`
 * ada's clock ran out and bob missed at T0+32s.
 */
describe("memory: sessions of version 1", () => {
  const stored = (which: "turn" | "show") => structuredClone(v1Sessions[which].record) as unknown as SessionRecord
  /** What version 1 showed bob, but its turn counter (the view keeps version 1's turn fields). */
  const v1View = (which: "turn" | "show") => {
    const { turnNo: _, ...view } = v1Sessions[which].bobSees
    return view
  }

  test("mid-turn: the state moves to turns, the view is as before, the pending clock fires at its deadline", () => {
    const record = stored("turn")
    const copy = structuredClone(record)
    const s = Session.resume(memory, record)
    expect(record).toEqual(copy)
    expect(s.record.version).toBe(2)
    expect(stateOf(s)).toMatchObject({
      phase: "playing",
      flipped: [1],
      turns: { order: ["ada", "bob", "cy"], current: "ada", number: 2, endsAt: T0 + 32_000 },
      scores: { ada: 1, bob: 0, cy: 0 },
    })
    expect(s.record.timers).toEqual([{ id: 2, name: "turnTimeout", at: T0 + 32_000, payload: { turn: 2 } }])
    expect(viewOf(s, "bob")).toEqual(v1View("turn") as MemoryView)
    // ada plays on; the exactly-once ledger came along (a resend of her last flip is answered, not applied).
    expect(act(s, "ada", "flip", { index: 1 }, T0 + 4_000)).toMatchObject({ ok: false, code: "card_up" })
    expect(s.act({ player: "ada", client: "client-ada", id: 4, name: "flip", input: { index: 1 }, now: T0 + 4_000 })).toMatchObject({ ok: true, duplicate: true })
    s.advance(T0 + 32_000 - 1)
    expect(stateOf(s).turns.current).toBe("ada")
    s.takeEvents()
    s.advance(T0 + 32_000)
    expect(stateOf(s)).toMatchObject({ flipped: [], turns: { current: "bob", number: 3, endsAt: T0 + 32_000 + TURN_MS } })
    expect(s.takeEvents().map((e) => [e.event, e.data])).toEqual([
      ["timeout", { player: "ada" }],
      ["turn", { player: "bob" }],
    ])
  })

  test("mid-show: the missed pair is turned back when the show ends and the turn passes", () => {
    const s = Session.resume(memory, stored("show"))
    expect(stateOf(s)).toMatchObject({ showing: true, flipped: [0, 1], turns: { current: "bob", number: 2, endsAt: null } })
    expect(s.record.timers).toEqual([{ id: 3, name: "showOver", at: T0 + 33_500, payload: { turn: 2 } }])
    expect(viewOf(s, "bob")).toEqual(v1View("show") as MemoryView)
    expect(act(s, "bob", "flip", { index: 2 }, T0 + 33_000)).toMatchObject({ ok: false, code: "wait" })
    s.advance(T0 + 33_500)
    expect(stateOf(s)).toMatchObject({ showing: false, flipped: [], turns: { current: "cy", number: 3, endsAt: T0 + 33_500 + TURN_MS } })
    expect(viewOf(s, "bob").cards.every((c) => c.face === null)).toBe(true)
    expect(act(s, "cy", "flip", { index: 2 }, T0 + 34_000)).toMatchObject({ ok: true })
  })

  test("a version-1 record without the migration does not load under version 2", () => {
    const noMigration = { ...memory, migrate: undefined }
    expect(() => Session.resume(noMigration, stored("turn"))).toThrow("has no migrate[1]")
  })
})
