/** The duel the lobby spawns: who may sit, secret hands, rounds, and the timers that keep it moving. */
import { describe, expect, test } from "bun:test"
import { Session } from "batonjs"
import duel, { type DuelView, NO_SHOW_MS, ROUND_MS } from "../games/duel.ts"

const T0 = 1_700_000_000_000
let actionId = 1

function match(seated = ["ada", "bob"]): Session<typeof duel> {
  const s = Session.create(duel, { id: "lobby-1-1", now: T0, options: { players: ["ada", "bob"] } })
  for (const p of seated) expect(s.join(p, T0)).toMatchObject({ ok: true })
  return s
}
const choose = (s: Session<typeof duel>, player: string, hand: string, now = T0) =>
  s.act({ player, client: `c-${player}`, id: actionId++, name: "choose", input: { hand }, now })
const viewOf = (s: Session<typeof duel>, p: string) => s.view(p) as DuelView

describe("duel", () => {
  test("only the two matched players may sit, and it needs them", () => {
    expect(() => Session.create(duel, { id: "x", now: T0 })).toThrow(/options/)
    expect(() => Session.create(duel, { id: "x", now: T0, options: { players: ["solo"] } })).toThrow(/options/)
    const s = match(["ada"])
    expect(s.join("mallory", T0)).toMatchObject({ ok: false, code: "not_your_match" })
    expect(choose(s, "ada", "rock")).toMatchObject({ ok: false, code: "not_started" })
    expect(s.join("bob", T0)).toMatchObject({ ok: true })
    expect(viewOf(s, "ada")).toMatchObject({ phase: "choosing", round: 1, opponent: "bob" })
  })

  test("a hand stays secret until both have chosen", () => {
    const s = match()
    expect(choose(s, "ada", "rock")).toEqual({ ok: true })
    expect(viewOf(s, "ada")).toMatchObject({ hand: "rock", opponentChose: false })
    const bob = viewOf(s, "bob")
    expect(bob).toMatchObject({ hand: null, opponentChose: true })
    expect(JSON.stringify(bob)).not.toContain("rock")
    expect(choose(s, "ada", "paper")).toMatchObject({ ok: false, code: "already_chose" })

    expect(choose(s, "bob", "scissors")).toEqual({ ok: true })
    expect(viewOf(s, "bob")).toMatchObject({ round: 2, hand: null, scores: { ada: 1, bob: 0 } })
    expect(viewOf(s, "bob").history).toEqual([{ hands: { ada: "rock", bob: "scissors" }, winner: "ada" }])
  })

  test("a draw scores nothing; the first to two rounds wins the duel", () => {
    const s = match()
    choose(s, "ada", "rock")
    choose(s, "bob", "rock")
    expect(viewOf(s, "ada")).toMatchObject({ round: 2, scores: { ada: 0, bob: 0 } })
    choose(s, "ada", "rock")
    choose(s, "bob", "paper")
    choose(s, "ada", "scissors")
    choose(s, "bob", "scissors")
    choose(s, "ada", "paper")
    choose(s, "bob", "scissors")
    expect(s.ended).toBe(true)
    expect(s.record.result).toEqual({ winner: "bob", reason: "won", scores: { ada: 0, bob: 2 } })
    expect(choose(s, "ada", "rock")).toMatchObject({ ok: false, code: "session_ended" })
  })

  test("a player who never shows up loses", () => {
    const s = match(["ada"])
    s.advance(T0 + NO_SHOW_MS)
    expect(s.record.result).toMatchObject({ winner: "ada", reason: "no_show" })
  })

  test("a player who does not choose in time loses", () => {
    const s = match()
    choose(s, "bob", "paper", T0 + 1_000)
    s.advance(T0 + ROUND_MS)
    expect(s.record.result).toMatchObject({ winner: "bob", reason: "timeout" })
  })

  test("leaving mid-duel concedes it", () => {
    const s = match()
    s.leave("ada", T0 + 5)
    expect(s.record.result).toMatchObject({ winner: "bob", reason: "opponent_left" })
  })
})
