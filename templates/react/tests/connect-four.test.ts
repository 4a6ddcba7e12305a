/**
 * The game's rules, on the pure session runtime: no server, no clock. Each
 * step takes the time as an argument, so the turn clock is tested by moving it.
 */
import { describe, expect, test } from "bun:test"
import { Session } from "batonjs"
import connectFour, { type ConnectFourState, TURN_MS } from "../games/connect-four.ts"
import { COLUMNS, lineThrough, ROWS } from "../games/grid.ts"

const T0 = 1_700_000_000_000
let actionId = 1

function game(): Session<typeof connectFour> {
  const s = Session.create(connectFour, { id: `c4-${actionId}`, now: T0 })
  expect(s.join("ada", T0)).toMatchObject({ ok: true })
  expect(s.join("bob", T0)).toMatchObject({ ok: true })
  return s
}

const drop = (s: Session<typeof connectFour>, player: string, column: number, now = T0) =>
  s.act({ player, client: `c-${player}`, id: actionId++, name: "drop", input: { column }, now })
const stateOf = (s: Session<typeof connectFour>) => s.record.state as ConnectFourState
/** Plays these columns, ada and bob in turn, each drop accepted. */
const play = (s: Session<typeof connectFour>, columns: number[]) =>
  columns.forEach((c, i) => expect(drop(s, i % 2 === 0 ? "ada" : "bob", c)).toMatchObject({ ok: true }))

describe("connect four: turns", () => {
  test("the first to sit plays red and starts; the other waits", () => {
    const s = game()
    expect(stateOf(s).phase).toBe("playing")
    expect(stateOf(s).turns.current).toBe("ada")
    expect(drop(s, "bob", 0)).toMatchObject({ ok: false, code: "not_your_turn" })
    expect(drop(s, "ada", 3)).toEqual({ ok: true, value: { row: ROWS - 1, won: false } })
    expect(stateOf(s).grid[(ROWS - 1) * COLUMNS + 3]).toBe("red")
    expect(stateOf(s).turns.current).toBe("bob")
  })

  test("discs stack up a column until it is full; outside the grid is refused by the schema", () => {
    const s = game()
    play(s, [0, 0, 0, 0, 0, 0])
    expect(stateOf(s).grid.filter((c) => c !== null)).toHaveLength(ROWS)
    expect(drop(s, "ada", 0)).toMatchObject({ ok: false, code: "column_full" })
    expect(drop(s, "ada", COLUMNS)).toMatchObject({ ok: false, code: "invalid_input" })
  })

  test("nobody plays before the second player sits down, and a third cannot sit", () => {
    const s = Session.create(connectFour, { id: "c4-alone", now: T0 })
    s.join("ada", T0)
    expect(drop(s, "ada", 0)).toMatchObject({ ok: false, code: "not_started" })
    s.join("bob", T0)
    expect(s.join("cy", T0)).toMatchObject({ ok: false })
  })

  test("the turn clock passes the turn of a player who waits too long", () => {
    const s = game()
    s.advance(T0 + TURN_MS - 1)
    expect(stateOf(s).turns.current).toBe("ada")
    s.advance(T0 + TURN_MS)
    expect(stateOf(s).turns.current).toBe("bob")
    expect(s.takeEvents().map((e) => e.event)).toContain("timeout")
  })
})

describe("connect four: the end", () => {
  test("four across wins, and the line is kept to be shown", () => {
    const s = game()
    play(s, [0, 0, 1, 1, 2, 2])
    expect(drop(s, "ada", 3)).toEqual({ ok: true, value: { row: ROWS - 1, won: true } })
    expect(s.ended).toBe(true)
    expect(s.record.result).toEqual({ winner: "ada", reason: "four_in_a_row" })
    const bottom = (ROWS - 1) * COLUMNS
    expect(stateOf(s).line).toEqual([bottom, bottom + 1, bottom + 2, bottom + 3])
    expect(drop(s, "bob", 4)).toMatchObject({ ok: false })
  })

  test("four down and four diagonally win too", () => {
    const down = game()
    play(down, [0, 1, 0, 1, 0, 1, 0])
    expect(stateOf(down).winner).toBe("ada")
    // bob's yellow discs climb from column 0 to column 3.
    const diagonal = game()
    play(diagonal, [1, 0, 2, 1, 2, 2, 3, 3, 3, 4, 6, 3])
    expect(stateOf(diagonal).winner).toBe("bob")
    expect(stateOf(diagonal).line).toEqual([2 * COLUMNS + 3, 3 * COLUMNS + 2, 4 * COLUMNS + 1, 5 * COLUMNS])
  })

  test("a full grid with no line is a draw", () => {
    // Columns filled in pairs, shifted so that no four line up anywhere.
    const columns = [0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 2, 3, 2, 3, 2, 3, 3, 2, 3, 2, 3, 2, 4, 5, 4, 5, 4, 5, 5, 4, 5, 4, 5, 4, 6, 6, 6, 6, 6, 6]
    const s = game()
    play(s, columns)
    expect(s.record.result).toEqual({ winner: null, reason: "draw" })
  })

  test("leaving a game in progress concedes it", () => {
    const s = game()
    expect(s.leave("ada", T0 + 5)).toMatchObject({ ok: true })
    expect(s.record.result).toEqual({ winner: "bob", reason: "opponent_left" })
  })

  test("lineThrough finds a line through any of its cells, and none through an empty cell", () => {
    const grid = Array<"red" | "yellow" | null>(ROWS * COLUMNS).fill(null)
    for (const c of [8, 16, 24, 32]) grid[c] = "red" // a diagonal down to the right
    for (const c of [8, 16, 24, 32]) expect(lineThrough(grid, c)).toEqual([8, 16, 24, 32])
    expect(lineThrough(grid, 0)).toEqual([])
    grid[32] = "yellow"
    expect(lineThrough(grid, 8)).toEqual([])
  })
})
