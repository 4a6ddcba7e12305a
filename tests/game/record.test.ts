import { describe, expect, test } from "bun:test"
import { defineGame, Session, type SessionRecord, v } from "batonjs"
import { LEDGER_RESULTS, LEDGERS_PER_PLAYER } from "../../framework/game/record.ts"

const T0 = 1_700_000_000_000

let applied = 0
const counter = defineGame({
  name: "counter",
  version: 1,
  players: { min: 1, max: 3 },
  state: v.object({ n: v.number() }),
  setup: () => ({ n: 0 }),
  actions: {
    add: {
      input: v.object({ by: v.number() }),
      apply({ state, input, reject }) {
        applied++
        if (input.by === 0) reject("zero", "adding zero is pointless")
        state.n += input.by
        return state.n
      },
    },
    bump: {
      input: v.object({}),
      apply({ state }) {
        applied++
        state.n++
      },
    },
    nothing: {
      input: v.object({}),
      apply() {
        return null
      },
    },
  },
})

function fresh(): Session<typeof counter> {
  const s = Session.create(counter, { id: "c", now: T0 })
  s.join("alice", T0)
  s.join("bob", T0)
  applied = 0
  return s
}
const add = (s: Session, player: string, client: string, id: number, by: number, now = T0) =>
  s.act({ player, client, id, name: "add", input: { by }, now })
const jsonCopy = (r: SessionRecord) => JSON.parse(JSON.stringify(r)) as SessionRecord

describe("exactly-once actions", () => {
  test("the same (client, id) twice applies once; the resend repeats the answer, flagged duplicate", () => {
    const s = fresh()
    expect(add(s, "alice", "a1", 1, 5)).toEqual({ ok: true, value: 5 })
    const after = s.record
    expect(add(s, "alice", "a1", 1, 5)).toEqual({ ok: true, value: 5, duplicate: true })
    expect(add(s, "alice", "a1", 1, 100)).toEqual({ ok: true, value: 5, duplicate: true })
    expect(s.record).toBe(after)
    expect(s.record.state.n).toBe(5)
    expect(applied).toBe(1)
    expect(s.appliedSeq("a1")).toBe(1)
  })

  test("an action without a value (undefined or null) answers { ok: true } both times", () => {
    const s = fresh()
    const bump = { player: "alice", client: "a1", id: 1, name: "bump", input: {}, now: T0 }
    expect(s.act(bump)).toEqual({ ok: true })
    expect(s.act(bump)).toStrictEqual({ ok: true, duplicate: true })
    const nothing = { ...bump, id: 2, name: "nothing" }
    expect(s.act(nothing)).toStrictEqual({ ok: true })
    expect(s.act(nothing)).toStrictEqual({ ok: true, duplicate: true })
    expect(s.record.state.n).toBe(1)
    // Same answers from a JSON copy (what another node resumes from).
    const moved = Session.resume(counter, jsonCopy(s.record))
    expect(moved.act(bump)).toStrictEqual({ ok: true, duplicate: true })
    expect(moved.act(nothing)).toStrictEqual({ ok: true, duplicate: true })
  })

  test("a rejection is repeated to a resend, not retried", () => {
    const s = fresh()
    const first = add(s, "alice", "a1", 1, 0)
    expect(first).toEqual({ ok: false, code: "zero", message: "adding zero is pointless" })
    expect(add(s, "alice", "a1", 1, 0)).toEqual({ ...first, duplicate: true })
    expect(applied).toBe(1)
    // Refusals before the game ran are remembered as well.
    const bad = s.act({ player: "alice", client: "a1", id: 2, name: "add", input: { by: "x" }, now: T0 })
    expect(bad).toMatchObject({ ok: false, code: "invalid_input" })
    expect(s.act({ player: "alice", client: "a1", id: 2, name: "add", input: { by: 1 }, now: T0 })).toEqual({ ...bad, duplicate: true })
    const unknown = s.act({ player: "alice", client: "a1", id: 3, name: "fly", input: {}, now: T0 })
    expect(s.act({ player: "alice", client: "a1", id: 3, name: "add", input: { by: 1 }, now: T0 })).toEqual({ ...unknown, duplicate: true })
    expect(s.record.state.n).toBe(0)
    expect(applied).toBe(1)
  })

  test("ids are counted per client: two clients of one player both apply id 1", () => {
    const s = fresh()
    expect(add(s, "alice", "tab-1", 1, 1)).toEqual({ ok: true, value: 1 })
    expect(add(s, "alice", "tab-2", 1, 10)).toEqual({ ok: true, value: 11 })
    expect(add(s, "bob", "bob-1", 1, 100)).toEqual({ ok: true, value: 111 })
    expect(s.appliedSeq("tab-1")).toBe(1)
    expect(s.appliedSeq("tab-2")).toBe(1)
    expect(s.appliedSeq("never")).toBe(0)
    expect(Object.keys(s.record.clients).sort()).toEqual(["bob-1", "tab-1", "tab-2"])
  })

  test("ids only grow: an id at or below the client's highest is a duplicate", () => {
    const s = fresh()
    add(s, "alice", "a1", 5, 1)
    expect(add(s, "alice", "a1", 3, 1)).toEqual({ ok: true, duplicate: true })
    expect(add(s, "alice", "a1", 6, 1)).toEqual({ ok: true, value: 2 })
    expect(s.record.state.n).toBe(2)
  })

  test("a client id used by another player is refused", () => {
    const s = fresh()
    add(s, "alice", "shared", 1, 1)
    const before = s.record
    expect(add(s, "bob", "shared", 2, 1)).toMatchObject({ ok: false, code: "bad_request" })
    // Even an id alice used: bob cannot read alice's answers.
    expect(add(s, "bob", "shared", 1, 1)).toMatchObject({ ok: false, code: "bad_request" })
    expect(s.record).toBe(before)
    expect(s.record.clients.shared?.player).toBe("alice")
  })

  test(`a client's ledger keeps its last ${LEDGER_RESULTS} answers`, () => {
    const s = fresh()
    const total = LEDGER_RESULTS + 10
    for (let id = 1; id <= total; id++) add(s, "alice", "a1", id, 1, T0 + id)
    const ledger = s.record.clients.a1
    expect(ledger?.results).toHaveLength(LEDGER_RESULTS)
    expect(ledger?.results[0]?.[0]).toBe(total - LEDGER_RESULTS + 1)
    expect(ledger).toMatchObject({ player: "alice", seq: total, at: T0 + total })
    // Recent: the value is repeated. Too old: still a duplicate (never re-applied), its value is gone.
    expect(add(s, "alice", "a1", total, 1)).toEqual({ ok: true, value: total, duplicate: true })
    expect(add(s, "alice", "a1", total - LEDGER_RESULTS + 1, 1)).toEqual({ ok: true, value: total - LEDGER_RESULTS + 1, duplicate: true })
    expect(add(s, "alice", "a1", 1, 1)).toEqual({ ok: true, duplicate: true })
    expect(s.record.state.n).toBe(total)
  })

  test(`a player keeps at most ${LEDGERS_PER_PLAYER} ledgers; the least recent goes first`, () => {
    const s = fresh()
    add(s, "bob", "bob-1", 1, 1, T0)
    for (let c = 1; c <= LEDGERS_PER_PLAYER; c++) add(s, "alice", `a${c}`, 1, 1, T0 + c)
    add(s, "alice", "a1", 2, 1, T0 + 100) // a1 is now the most recent, a2 the least
    add(s, "alice", "new", 1, 1, T0 + 200)
    const alices = Object.entries(s.record.clients).filter(([, l]) => l.player === "alice")
    expect(alices).toHaveLength(LEDGERS_PER_PLAYER)
    expect(alices.map(([id]) => id).sort()).toEqual(["a1", ...Array.from({ length: LEDGERS_PER_PLAYER - 2 }, (_, i) => `a${i + 3}`), "new"].sort())
    expect(s.record.clients["bob-1"]).toBeDefined()
    expect(s.appliedSeq("a2")).toBe(0)
    expect(JSON.parse(JSON.stringify(s.record))).toStrictEqual(s.record)
  })

  test("resends after a move repeat the answers given before it", () => {
    const s = fresh()
    add(s, "alice", "a1", 1, 3)
    add(s, "alice", "a1", 2, 0)
    const moved = Session.resume(counter, jsonCopy(s.record))
    applied = 0
    expect(add(moved, "alice", "a1", 1, 3)).toEqual({ ok: true, value: 3, duplicate: true })
    expect(add(moved, "alice", "a1", 2, 0)).toEqual({ ok: false, code: "zero", message: "adding zero is pointless", duplicate: true })
    expect(applied).toBe(0)
    expect(add(moved, "alice", "a1", 3, 1)).toEqual({ ok: true, value: 4 })
  })

  test("a resend after the session ended still gets its answer", () => {
    const s = fresh()
    add(s, "alice", "a1", 1, 2)
    s.end(null, T0)
    expect(add(s, "alice", "a1", 1, 2)).toEqual({ ok: true, value: 2, duplicate: true })
    expect(add(s, "alice", "a1", 2, 2)).toMatchObject({ ok: false, code: "session_ended" })
  })
})
