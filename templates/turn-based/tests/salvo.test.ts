/**
 * The game's rules, on the pure session runtime: no server, no clock. Each
 * step takes the time as an argument, so timers are tested by moving it.
 */
import { describe, expect, test } from "bun:test"
import { Session } from "batonjs"
import salvo, { FLEET, type SalvoState, type SalvoView, SIZE, TURN_MS } from "../games/salvo.ts"

const T0 = 1_700_000_000_000
let actionId = 1

function game(seed = "seed-1"): Session<typeof salvo> {
  const s = Session.create(salvo, { id: `salvo-${seed}`, now: T0, seed })
  expect(s.join("ada", T0)).toMatchObject({ ok: true })
  expect(s.join("bob", T0)).toMatchObject({ ok: true })
  return s
}

const fire = (s: Session<typeof salvo>, player: string, cell: number, now = T0) =>
  s.act({ player, client: `c-${player}`, id: actionId++, name: "fire", input: { cell }, now })
const stateOf = (s: Session<typeof salvo>) => s.record.state as SalvoState
const viewOf = (s: Session<typeof salvo>, p: string) => s.view(p) as SalvoView
/** Read from the server-side state, which a test may see and a player never does. */
const shipCells = (s: Session<typeof salvo>, p: string) => stateOf(s).boards[p]?.ships.flat() ?? []
const seaCells = (s: Session<typeof salvo>, p: string) => {
  const ships = new Set(shipCells(s, p))
  return Array.from({ length: SIZE * SIZE }, (_, i) => i).filter((c) => !ships.has(c))
}

describe("salvo: the fleet", () => {
  test("every fleet has its ships in the grid, straight and apart", () => {
    for (let seed = 0; seed < 50; seed++) {
      const s = Session.create(salvo, { id: `f${seed}`, now: T0, seed: String(seed) })
      s.join("ada", T0)
      const ships = stateOf(s).boards.ada?.ships ?? []
      expect(ships.map((c) => c.length)).toEqual([...FLEET])
      const all = ships.flat()
      expect(new Set(all).size).toBe(all.length)
      for (const cells of ships) {
        const rows = cells.map((c) => Math.floor(c / SIZE))
        const cols = cells.map((c) => c % SIZE)
        const across = new Set(rows).size === 1 && cols.every((c, i) => i === 0 || c === (cols[i - 1] as number) + 1)
        const down = new Set(cols).size === 1 && rows.every((r, i) => i === 0 || r === (rows[i - 1] as number) + 1)
        expect(across || down).toBe(true)
      }
    }
  })

  test("the seed decides the fleet (a replay places the same ships)", () => {
    expect(shipCells(game("a"), "bob")).toEqual(shipCells(game("a"), "bob"))
    expect(shipCells(game("a"), "bob")).not.toEqual(shipCells(game("b"), "bob"))
  })
})

describe("salvo: hidden information", () => {
  test("you see your own ships, never theirs", () => {
    const s = game()
    const view = viewOf(s, "ada")
    expect(view.mine.filter((c) => c === "ship")).toHaveLength(shipCells(s, "ada").length)
    expect(view.theirs.every((c) => c === "unknown")).toBe(true)
    expect(JSON.stringify(view)).not.toContain(JSON.stringify(stateOf(s).boards.bob?.ships))
  })

  test("two games with different fleets look exactly alike to the other player", () => {
    const a = game("deck-a")
    const b = game("deck-b")
    expect(shipCells(a, "bob")).not.toEqual(shipCells(b, "bob"))
    const strip = (v: SalvoView) => ({ ...v, mine: null })
    expect(strip(viewOf(a, "ada"))).toEqual(strip(viewOf(b, "ada")))
  })

  test("a shot shows its result, and the survivors show only once the game is over", () => {
    const s = game()
    const [hit] = shipCells(s, "bob")
    expect(fire(s, "ada", hit as number)).toEqual({ ok: true, value: { result: "hit" } })
    expect(viewOf(s, "ada").theirs[hit as number]).toBe("hit")
    expect(viewOf(s, "bob").mine[hit as number]).toBe("hit")
    expect(viewOf(s, "ada").theirs.filter((c) => c === "ship")).toHaveLength(0)
  })
})

describe("salvo: turns", () => {
  test("the first to sit fires first; the other is refused", () => {
    const s = game()
    expect(stateOf(s).turns.current).toBe("ada")
    expect(fire(s, "bob", 0)).toMatchObject({ ok: false, code: "not_your_turn" })
  })

  test("a miss passes the turn, a hit fires again", () => {
    const s = game()
    const [sea] = seaCells(s, "bob")
    expect(fire(s, "ada", sea as number)).toEqual({ ok: true, value: { result: "miss" } })
    expect(stateOf(s).turns.current).toBe("bob")
    const [hit] = shipCells(s, "ada")
    expect(fire(s, "bob", hit as number)).toMatchObject({ ok: true, value: { result: "hit" } })
    expect(stateOf(s).turns.current).toBe("bob")
  })

  test("a cell can be fired at once; out of the grid is refused by the schema", () => {
    const s = game()
    const [hit] = shipCells(s, "bob")
    fire(s, "ada", hit as number)
    expect(fire(s, "ada", hit as number)).toMatchObject({ ok: false, code: "already_fired" })
    expect(fire(s, "ada", SIZE * SIZE)).toMatchObject({ ok: false, code: "invalid_input" })
    expect(stateOf(s).boards.bob?.shots).toEqual([hit as number])
  })

  test("a player who lets the clock run out loses the turn", () => {
    const s = game()
    s.advance(T0 + TURN_MS - 1)
    expect(stateOf(s).turns.current).toBe("ada")
    s.advance(T0 + TURN_MS)
    expect(stateOf(s).turns.current).toBe("bob")
    expect(s.takeEvents().map((e) => e.event)).toContain("timeout")
  })

  test("nobody fires before the second player sits down", () => {
    const s = Session.create(salvo, { id: "lonely", now: T0 })
    s.join("ada", T0)
    expect(fire(s, "ada", 0)).toMatchObject({ ok: false, code: "not_started" })
    expect(s.join("bob", T0)).toMatchObject({ ok: true })
    expect(s.join("cy", T0)).toMatchObject({ ok: false })
  })
})

describe("salvo: the end", () => {
  test("sinking the whole fleet wins, and the view then shows the survivors", () => {
    const s = game()
    const targets = stateOf(s).boards.bob?.ships ?? []
    for (const ship of targets) {
      for (const cell of ship) {
        const sunk = cell === ship.at(-1)
        const out = fire(s, "ada", cell)
        expect(out).toMatchObject({ ok: true, value: { result: sunk ? "sunk" : "hit" } })
      }
    }
    expect(s.ended).toBe(true)
    expect(s.record.result).toEqual({ winner: "ada", reason: "fleet_sunk" })
    expect(viewOf(s, "bob").afloat).toEqual({ mine: 0, theirs: FLEET.length })
    // bob now sees where ada's fleet was.
    expect(viewOf(s, "bob").theirs.filter((c) => c === "ship")).toHaveLength(shipCells(s, "ada").length)
    expect(fire(s, "ada", seaCells(s, "bob")[0] as number)).toMatchObject({ ok: false })
  })

  test("leaving a game in progress concedes it", () => {
    const s = game()
    expect(s.leave("ada", T0 + 5)).toMatchObject({ ok: true })
    expect(s.record.result).toEqual({ winner: "bob", reason: "opponent_left" })
  })
})
