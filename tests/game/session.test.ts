import { describe, expect, test } from "bun:test"
import { defineGame, GameLoadError, Session, v } from "batonjs"

const T0 = 1_700_000_000_000

const cell = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(8))

/** A small board game with secrets, timers, rng and events: enough surface for every transaction path. */
const board = defineGame({
  name: "board",
  version: 1,
  players: { min: 1, max: 3 },
  state: v.object({
    board: v.array(v.nullable(v.string())),
    secrets: v.record(v.string(), v.string()),
    rolls: v.array(v.number()),
    joins: v.number(),
    leaves: v.array(v.string()),
  }),
  setup: () => ({ board: Array(9).fill(null), secrets: {}, rolls: [], joins: 0, leaves: [] }),
  actions: {
    place: {
      input: v.object({ cell }),
      apply({ state, input, player, reject, emit }) {
        if (state.board[input.cell] !== null) reject("occupied", `cell ${input.cell} is taken`)
        state.board[input.cell] = player
        emit("placed", { cell: input.cell, by: player })
        return input.cell
      },
    },
    hide: {
      input: v.object({ secret: v.string() }),
      apply({ state, input, player }) {
        state.secrets[player] = input.secret
      },
    },
    /** Changes everything it can, then refuses: nothing may stick. */
    tryAll: {
      input: v.object({ how: v.picklist(["reject", "rejectNoMessage", "throw", "throwString"]) }),
      apply(ctx) {
        ctx.state.board[0] = "scribble"
        ctx.state.secrets.p1 = "leaked"
        ctx.state.rolls.push(ctx.rng.int(1, 6))
        ctx.timers.after(1000, "ding", { n: 1 })
        ctx.emit("should-not-arrive")
        if (ctx.input.how === "reject") ctx.reject("nope", "not now")
        if (ctx.input.how === "rejectNoMessage") ctx.reject("nope")
        if (ctx.input.how === "throw") throw new Error("kaboom")
        throw "a string"
      },
    },
    roll: {
      input: v.object({}),
      apply({ state, rng }) {
        const n = rng.int(1, 6)
        state.rolls.push(n)
        return n
      },
    },
    finish: {
      input: v.object({ winner: v.string() }),
      apply({ input, end, timers }) {
        timers.after(5000, "ding")
        end({ winner: input.winner })
      },
    },
    /** Replaces the whole state instead of mutating it. */
    reset: {
      input: v.object({ keep: v.optional(v.boolean()) }),
      apply(ctx) {
        if (ctx.input.keep) ctx.state = { ...ctx.state, board: Array(9).fill("reset") }
        else ctx.state = { board: Array(9).fill("reset"), secrets: {}, rolls: [], joins: ctx.state.joins, leaves: [] }
        ctx.state.rolls.push(99)
      },
    },
    whoIsHere: {
      input: v.object({}),
      apply({ players }) {
        return players
      },
    },
    returnDraft: {
      input: v.object({}),
      apply({ state }) {
        state.board[4] = "mid"
        return state.board
      },
    },
    shout: {
      input: v.object({ to: v.optional(v.union([v.string(), v.array(v.string())])) }),
      apply({ emit, input, state }) {
        emit("shout", { board: state.board }, input.to)
      },
    },
    unknownTimer: {
      input: v.object({}),
      apply({ timers }) {
        ;(timers as { after(ms: number, name: string): number }).after(10, "nope")
      },
    },
  },
  timers: {
    ding({ state }) {
      state.rolls.push(-1)
    },
  },
  view: (state, player) => ({
    board: state.board,
    mine: state.secrets[player] ?? null,
    hidden: Object.keys(state.secrets).filter((p) => p !== player).length,
  }),
  onJoin({ state, player, reject, emit }) {
    if (player === "banned") reject("banned", "you may not sit here")
    if (player === "crasher") throw new Error("onJoin exploded")
    state.joins++
    emit("joined", { player })
  },
  onLeave({ state, player }) {
    if (player === "grumpy") throw new Error("onLeave exploded")
    state.leaves.push(player)
  },
})

let nextId = 0
function act(s: Session, player: string, name: string, input: unknown, now = T0, client = `${player}-c`) {
  return s.act({ player, client, id: ++nextId, name, input, now })
}

function fresh(seated: string[] = ["p1", "p2"]): Session<typeof board> {
  const s = Session.create(board, { id: "s1", now: T0, seed: "seed" })
  for (const p of seated) expect(s.join(p, T0)).toMatchObject({ ok: true })
  s.takeEvents()
  return s
}

describe("Session.create", () => {
  test("builds an open record from setup", () => {
    const s = Session.create(board, { id: "abc", now: T0 })
    const r = s.record
    expect(r).toMatchObject({
      id: "abc",
      game: "board",
      version: 1,
      status: "open",
      players: [],
      timers: [],
      nextTimerId: 1,
      tickAt: null,
      clients: {},
      result: null,
      createdAt: T0,
      activeAt: T0,
      endedAt: null,
      rev: 1,
    })
    expect(r.state).toEqual({ board: Array(9).fill(null), secrets: {}, rolls: [], joins: 0, leaves: [] })
    expect(r.rng).toHaveLength(4)
    expect(s.id).toBe("abc")
    expect(s.ended).toBe(false)
    expect(JSON.parse(JSON.stringify(r))).toStrictEqual(r)
  })

  test("options are validated against the game's schema", () => {
    const withOptions = defineGame({
      name: "opts",
      version: 1,
      players: { min: 1, max: 2 },
      options: v.object({ size: v.pipe(v.number(), v.minValue(3)) }),
      state: v.object({ size: v.number(), at: v.number() }),
      setup: ({ options, now }) => ({ size: (options as { size: number }).size, at: now }),
      actions: {},
    })
    expect(Session.create(withOptions, { id: "o", now: T0, options: { size: 5 } }).record.state).toEqual({ size: 5, at: T0 })
    const bad = () => Session.create(withOptions, { id: "o", now: T0, options: { size: 1 } })
    expect(bad).toThrow(GameLoadError)
    expect(bad).toThrow(/options size: /)
    try {
      bad()
    } catch (e) {
      expect((e as GameLoadError).code).toBe("invalid_options")
    }
    try {
      Session.create(board, { id: "o", now: T0, options: { size: 5 } })
      throw new Error("unreachable")
    } catch (e) {
      expect(e).toBeInstanceOf(GameLoadError)
      expect((e as GameLoadError).code).toBe("invalid_options")
      expect((e as Error).message).toContain('"board" takes no options')
    }
  })

  test("a setup whose state fails the schema, or that throws, is a GameLoadError game_error", () => {
    const badSetup = defineGame({
      name: "bad-setup",
      version: 1,
      players: { min: 1, max: 1 },
      state: v.object({ n: v.number() }),
      setup: () => ({ n: "one" }) as unknown as { n: number },
      actions: {},
    })
    const throwingSetup = defineGame({ ...badSetup, name: "throwing-setup", setup: () => { throw new Error("no dice") } })
    for (const [game, text] of [
      [badSetup, /fails its schema: n: /],
      [throwingSetup, /setup\(\) of "throwing-setup" threw: no dice/],
    ] as const) {
      try {
        Session.create(game, { id: "x", now: T0 })
        throw new Error("unreachable")
      } catch (e) {
        expect(e).toBeInstanceOf(GameLoadError)
        expect((e as GameLoadError).code).toBe("game_error")
        expect((e as Error).message).toMatch(text)
      }
    }
  })

  test("the seed decides the setup's randomness", () => {
    const dealt = defineGame({
      name: "dealt",
      version: 1,
      players: { min: 1, max: 1 },
      state: v.object({ deck: v.array(v.number()) }),
      setup: ({ rng }) => ({ deck: rng.shuffle(Array.from({ length: 20 }, (_, i) => i)) }),
      actions: {},
    })
    const a = Session.create(dealt, { id: "a", now: T0, seed: "same" })
    const b = Session.create(dealt, { id: "b", now: T0, seed: "same" })
    const c = Session.create(dealt, { id: "c", now: T0, seed: "other" })
    expect(a.record.state).toEqual(b.record.state)
    expect(a.record.rng).toEqual(b.record.rng)
    expect(c.record.state).not.toEqual(a.record.state)
    // Without a seed, the session id seeds it.
    expect(Session.create(dealt, { id: "same", now: T0 }).record.state).toEqual(a.record.state)
  })
})

describe("act: validation", () => {
  test("an invalid input is refused with invalid_input and a message naming the field", () => {
    const s = fresh()
    const before = s.record.state
    for (const input of [{ cell: 9 }, { cell: -1 }, { cell: 1.5 }, { cell: "4" }, {}]) {
      const out = act(s, "p1", "place", input)
      expect(out).toMatchObject({ ok: false, code: "invalid_input" })
      if (out.ok) throw new Error("unreachable")
      expect(out.message).toStartWith("place: cell: ")
    }
    expect(act(s, "p1", "place", null)).toMatchObject({ ok: false, code: "invalid_input" })
    expect(s.record.state).toBe(before)
  })

  test("an unknown action is refused with unknown_action, prototype names included", () => {
    const s = fresh()
    for (const name of ["fly", "toString", "__proto__", "constructor", "hasOwnProperty"]) {
      const out = act(s, "p1", name, {})
      expect(out).toEqual({ ok: false, code: "unknown_action", message: `"board" has no action "${name}"` })
    }
  })

  test("a player without a seat is refused with not_seated", () => {
    const s = fresh()
    const out = act(s, "stranger", "place", { cell: 0 })
    expect(out).toMatchObject({ ok: false, code: "not_seated" })
    expect(s.record.state.board[0]).toBeNull()
    // A refusal that never reached the game is not remembered: seated, the same id goes through.
    expect(s.join("stranger", T0).ok).toBe(true)
    expect(s.act({ player: "stranger", client: "stranger-c", id: nextId, name: "place", input: { cell: 0 }, now: T0 })).toEqual({ ok: true, value: 0 })
  })

  test("an ended session refuses actions with session_ended", () => {
    const s = fresh()
    s.end({ reason: "test" }, T0 + 1)
    expect(act(s, "p1", "place", { cell: 0 })).toMatchObject({ ok: false, code: "session_ended" })
    expect(s.record.state.board[0]).toBeNull()
  })

  test("action ids must be positive integers", () => {
    const s = fresh()
    for (const id of [0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 2])
      expect(s.act({ player: "p1", client: "c", id, name: "place", input: { cell: 0 }, now: T0 })).toMatchObject({ ok: false, code: "bad_request" })
    expect(s.record.state.board[0]).toBeNull()
  })
})

describe("act: transactions", () => {
  for (const [how, code, message] of [
    ["reject", "nope", "not now"],
    ["rejectNoMessage", "nope", "nope"],
    ["throw", "game_error", /kaboom/],
    ["throwString", "game_error", /a string/],
  ] as const)
    test(`${how}: the record is exactly as before and the answer carries the code`, () => {
      const s = fresh()
      act(s, "p1", "place", { cell: 4 })
      act(s, "p2", "hide", { secret: "s2" })
      s.takeEvents()
      const r = s.record
      const snapshot = structuredClone(r)
      const out = act(s, "p1", "tryAll", { how })
      expect(out.ok).toBe(false)
      if (out.ok) throw new Error("unreachable")
      expect(out.code).toBe(code)
      if (typeof message === "string") expect(out.message).toBe(message)
      else expect(out.message).toMatch(message)
      const after = s.record
      expect(after.state).toBe(r.state)
      expect(after.state).toEqual(snapshot.state)
      expect(after.timers).toBe(r.timers)
      expect(after.timers).toEqual([])
      expect(after.nextTimerId).toBe(snapshot.nextTimerId)
      expect(after.rng).toEqual(snapshot.rng)
      expect(after.players).toBe(r.players)
      expect(after.status).toBe("open")
      expect(s.takeEvents()).toEqual([])
      // Only the ledger remembers the refused id.
      expect({ ...after, clients: undefined, rev: undefined }).toEqual({ ...snapshot, clients: undefined, rev: undefined })
      // The refused action's rng draw did not count: the next roll matches a session that never tried.
      const twin = fresh()
      act(twin, "p1", "place", { cell: 4 })
      act(twin, "p2", "hide", { secret: "s2" })
      expect(act(s, "p1", "roll", {})).toEqual(act(twin, "p1", "roll", {}))
    })

  test("a thrown error names the game and the player", () => {
    const s = fresh()
    const out = act(s, "p2", "tryAll", { how: "throw" })
    expect(out).toEqual({ ok: false, code: "game_error", message: "board: kaboom (by p2)" })
  })

  test("scheduling an undefined timer fails the action as game_error", () => {
    const s = fresh()
    expect(act(s, "p1", "unknownTimer", {})).toMatchObject({ ok: false, code: "game_error", message: expect.stringContaining("timers.nope is not defined") })
    expect(s.record.timers).toEqual([])
  })

  test("a committed action makes a new state and leaves the old one untouched", () => {
    const s = fresh()
    act(s, "p1", "hide", { secret: "x" })
    const before = s.record
    const beforeCopy = structuredClone(before)
    expect(act(s, "p1", "place", { cell: 2 })).toEqual({ ok: true, value: 2 })
    const after = s.record
    expect(after).not.toBe(before)
    expect(after.state.board[2]).toBe("p1")
    expect(after.rev).toBe(before.rev + 1)
    expect(after.activeAt).toBe(T0)
    expect(before).toEqual(beforeCopy)
    // Structural sharing: an untouched subtree keeps its identity.
    expect(after.state.secrets).toBe(before.state.secrets)
  })

  test("the game's rejection stays a rejection: occupied", () => {
    const s = fresh()
    expect(act(s, "p1", "place", { cell: 3 })).toEqual({ ok: true, value: 3 })
    expect(act(s, "p2", "place", { cell: 3 })).toEqual({ ok: false, code: "occupied", message: "cell 3 is taken" })
    expect(s.record.state.board[3]).toBe("p1")
  })

  test("a returned draft leaves the transaction as plain JSON", () => {
    const s = fresh()
    const out = act(s, "p1", "returnDraft", {})
    expect(out.ok).toBe(true)
    const value = (out as { value: unknown }).value as unknown[]
    expect(value).toEqual([null, null, null, null, "mid", null, null, null, null])
    expect(value).not.toBe(s.record.state.board)
    value[0] = "mutated"
    expect(s.record.state.board[0]).toBeNull()
  })

  test("game code may replace the whole state through ctx.state", () => {
    const s = fresh()
    act(s, "p1", "place", { cell: 0 })
    act(s, "p1", "hide", { secret: "kept" })
    expect(act(s, "p1", "reset", { keep: true })).toEqual({ ok: true })
    expect(s.record.state).toEqual({ board: Array(9).fill("reset"), secrets: { p1: "kept" }, rolls: [99], joins: 2, leaves: [] })
    expect(JSON.parse(JSON.stringify(s.record))).toStrictEqual(s.record)
    expect(act(s, "p1", "reset", {})).toEqual({ ok: true })
    expect(s.record.state).toEqual({ board: Array(9).fill("reset"), secrets: {}, rolls: [99], joins: 2, leaves: [] })
  })

  test("ctx.players lists the seated players in seat order", () => {
    const s = fresh(["a", "b", "c"])
    expect(act(s, "b", "whoIsHere", {})).toEqual({ ok: true, value: ["a", "b", "c"] })
    s.leave("a", T0)
    expect(s.join("d", T0)).toEqual({ ok: true, seat: 0, rejoined: false })
    expect(act(s, "b", "whoIsHere", {})).toEqual({ ok: true, value: ["d", "b", "c"] })
  })

  test("the record stays plain JSON through every kind of step", () => {
    const s = fresh()
    act(s, "p1", "place", { cell: 1 })
    act(s, "p1", "hide", { secret: "x" })
    act(s, "p1", "place", { cell: 1 })
    act(s, "p1", "place", { cell: 99 })
    act(s, "p1", "tryAll", { how: "throw" })
    act(s, "p1", "reset", {})
    s.leave("p2", T0)
    act(s, "p1", "finish", { winner: "p1" })
    expect(JSON.parse(JSON.stringify(s.record))).toStrictEqual(s.record)
  })
})

describe("views", () => {
  test("a player's view hides the other players' secrets", () => {
    const s = fresh()
    act(s, "p1", "hide", { secret: "p1-hand-AceOfSpades" })
    act(s, "p2", "hide", { secret: "p2-hand-QueenOfHearts" })
    const v1 = s.view("p1")
    const v2 = s.view("p2")
    expect(v1).toEqual({ board: Array(9).fill(null), mine: "p1-hand-AceOfSpades", hidden: 1 })
    expect(v2).toEqual({ board: Array(9).fill(null), mine: "p2-hand-QueenOfHearts", hidden: 1 })
    expect(JSON.stringify(v1)).not.toContain("QueenOfHearts")
    expect(JSON.stringify(v2)).not.toContain("AceOfSpades")
    expect(JSON.stringify(s.view("spectator"))).not.toContain("hand")
  })

  test("without a view every player sees the whole state", () => {
    const open = defineGame({ ...board, name: "open", view: undefined })
    const s = Session.create(open, { id: "o", now: T0 })
    expect(s.view("anyone")).toBe(s.record.state)
  })
})

describe("join / leave", () => {
  test("seats players up to players.max, then session_full", () => {
    const s = fresh([])
    expect(s.join("a", T0)).toEqual({ ok: true, seat: 0, rejoined: false })
    expect(s.join("b", T0)).toEqual({ ok: true, seat: 1, rejoined: false })
    expect(s.join("c", T0)).toEqual({ ok: true, seat: 2, rejoined: false })
    const before = s.record
    expect(s.join("d", T0)).toMatchObject({ ok: false, code: "session_full" })
    expect(s.record).toBe(before)
    expect(s.seatOf("d")).toBeUndefined()
    expect(s.record.state.joins).toBe(3)
  })

  test("a rejoin returns the same seat and runs no hook", () => {
    const s = fresh([])
    s.join("a", T0)
    s.join("b", T0)
    const before = s.record
    expect(s.join("b", T0 + 50)).toEqual({ ok: true, seat: 1, rejoined: true })
    expect(s.record).toBe(before)
    expect(s.record.state.joins).toBe(2)
  })

  test("onJoin may refuse the seat: nothing is taken", () => {
    const s = fresh(["a"])
    const before = s.record
    expect(s.join("banned", T0)).toEqual({ ok: false, code: "banned", message: "you may not sit here" })
    expect(s.join("crasher", T0)).toMatchObject({ ok: false, code: "game_error", message: expect.stringContaining("onJoin exploded") })
    expect(s.record).toBe(before)
    expect(s.seatOf("banned")).toBeUndefined()
    expect(s.takeEvents()).toEqual([])
    expect(s.join("b", T0)).toEqual({ ok: true, seat: 1, rejoined: false })
  })

  test("onJoin sees the joiner among the players and its events are delivered", () => {
    const s = fresh([])
    s.join("a", T0 + 7)
    expect(s.record.players).toEqual([{ player: "a", seat: 0, joinedAt: T0 + 7 }])
    expect(s.record.activeAt).toBe(T0 + 7)
    expect(s.takeEvents()).toEqual([{ event: "joined", data: { player: "a" }, to: null }])
  })

  test("leave frees the seat, runs onLeave, and the lowest free seat is reused", () => {
    const s = fresh(["a", "b", "c"])
    expect(s.leave("b", T0 + 1)).toEqual({ ok: true, value: undefined })
    expect(s.seatOf("b")).toBeUndefined()
    expect(s.record.state.leaves).toEqual(["b"])
    expect(s.record.activeAt).toBe(T0 + 1)
    expect(s.leave("a", T0 + 2).ok).toBe(true)
    expect(s.join("d", T0)).toEqual({ ok: true, seat: 0, rejoined: false })
    expect(s.join("e", T0)).toEqual({ ok: true, seat: 1, rejoined: false })
    expect(s.join("f", T0)).toMatchObject({ ok: false, code: "session_full" })
    expect(act(s, "d", "place", { cell: 0 })).toEqual({ ok: true, value: 0 })
    expect(act(s, "b", "place", { cell: 1 })).toMatchObject({ ok: false, code: "not_seated" })
  })

  test("leave without a seat is not_seated", () => {
    const s = fresh()
    expect(s.leave("nobody", T0)).toMatchObject({ ok: false, code: "not_seated" })
  })

  test("a failing onLeave is reported as a fault and the seat is freed anyway", () => {
    const s = fresh(["grumpy", "b"])
    const state = s.record.state
    expect(s.leave("grumpy", T0).ok).toBe(true)
    expect(s.seatOf("grumpy")).toBeUndefined()
    expect(s.record.state).toBe(state)
    const faults = s.takeFaults()
    expect(faults).toHaveLength(1)
    expect(faults[0]?.where).toBe("onLeave")
    expect(String(faults[0]?.error)).toContain("onLeave exploded")
    expect(s.takeFaults()).toEqual([])
  })

  test("after the end: no new seats, a seated player still gets its seat back, leave runs no hook", () => {
    const s = fresh(["a"])
    s.end(null, T0)
    expect(s.join("b", T0)).toMatchObject({ ok: false, code: "session_ended" })
    expect(s.join("a", T0)).toEqual({ ok: true, seat: 0, rejoined: true })
    expect(s.leave("a", T0).ok).toBe(true)
    expect(s.seatOf("a")).toBeUndefined()
    expect(s.record.state.leaves).toEqual([])
  })
})

describe("end", () => {
  test("ctx.end inside an action: ended, result stored, timers cleared", () => {
    const s = fresh()
    act(s, "p1", "tryAll", { how: "reject" }) // no timer sticks
    expect(act(s, "p1", "finish", { winner: "p2" })).toEqual({ ok: true })
    const r = s.record
    expect(r.status).toBe("ended")
    expect(s.ended).toBe(true)
    expect(r.result).toEqual({ winner: "p2" })
    expect(r.endedAt).toBe(T0)
    expect(r.timers).toEqual([])
    expect(s.nextWakeAt()).toBeNull()
    s.advance(T0 + 10_000)
    expect(s.record.state.rolls).toEqual([])
  })

  test("Session.end from outside ends once; the first result stands", () => {
    const s = fresh()
    s.end({ reason: "idle" }, T0 + 5)
    const r = s.record
    expect(r).toMatchObject({ status: "ended", result: { reason: "idle" }, endedAt: T0 + 5 })
    s.end({ reason: "again" }, T0 + 9)
    expect(s.record).toBe(r)
    expect(Session.create(board, { id: "u", now: T0 }).record.result).toBeNull()
    const u = Session.create(board, { id: "u", now: T0 })
    u.end(undefined, T0)
    expect(u.record.result).toBeNull()
  })
})

describe("events", () => {
  test("emit collects events with their audience; takeEvents drains", () => {
    const s = fresh()
    act(s, "p1", "shout", {})
    act(s, "p1", "shout", { to: "p2" })
    act(s, "p1", "shout", { to: ["p1", "p2"] })
    const board9 = { board: Array(9).fill(null) }
    expect(s.takeEvents()).toEqual([
      { event: "shout", data: board9, to: null },
      { event: "shout", data: board9, to: ["p2"] },
      { event: "shout", data: board9, to: ["p1", "p2"] },
    ])
    expect(s.takeEvents()).toEqual([])
  })

  test("only a committed transaction emits", () => {
    const s = fresh()
    act(s, "p1", "place", { cell: 0 })
    act(s, "p2", "place", { cell: 0 }) // occupied
    act(s, "p1", "tryAll", { how: "reject" }) // emits, then rejects
    act(s, "p1", "tryAll", { how: "throw" })
    act(s, "p1", "place", { cell: 42 })
    expect(s.takeEvents()).toEqual([{ event: "placed", data: { cell: 0, by: "p1" }, to: null }])
  })

  test("event data is a copy: later changes of the state do not reach it", () => {
    const s = fresh()
    act(s, "p1", "shout", {})
    act(s, "p1", "place", { cell: 8 })
    const [shout] = s.takeEvents()
    expect(shout?.data).toEqual({ board: Array(9).fill(null) })
  })
})

describe("spawn", () => {
  const lobby = defineGame({
    name: "lobby",
    version: 1,
    players: { min: 1, max: 8 },
    state: v.object({ matches: v.array(v.string()) }),
    setup: () => ({ matches: [] }),
    actions: {
      match: {
        input: v.object({ fail: v.optional(v.boolean()) }),
        apply({ state, spawn, input, reject }) {
          const id = spawn("duel", { best: 3 })
          state.matches.push(id)
          if (input.fail) reject("nope")
          return id
        },
      },
    },
  })

  test("ids derive from the session's, spawns leave only with a committed step", () => {
    const s = Session.create(lobby, { id: "lob", now: 0 })
    s.join("ada", 0)
    expect(s.act({ player: "ada", client: "c", id: 1, name: "match", input: {}, now: 1 })).toEqual({ ok: true, value: "lob-1" })
    expect(s.takeSpawns()).toEqual([{ id: "lob-1", game: "duel", options: { best: 3 } }])
    expect(s.act({ player: "ada", client: "c", id: 2, name: "match", input: { fail: true }, now: 2 }).ok).toBe(false)
    expect(s.takeSpawns()).toEqual([])
    expect(s.act({ player: "ada", client: "c", id: 3, name: "match", input: {}, now: 3 })).toEqual({ ok: true, value: "lob-2" })
    // A session resumed from its record spawns the next id, not one already used.
    const copy = Session.resume(lobby, JSON.parse(JSON.stringify(s.record)))
    copy.act({ player: "ada", client: "c", id: 4, name: "match", input: {}, now: 4 })
    expect(copy.takeSpawns().map((x) => x.id)).toEqual(["lob-3"])
  })
})
