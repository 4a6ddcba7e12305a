/**
 * Matchmaking on the pure session runtime. `spawn` is recorded by the
 * session (`takeSpawns()`); a node creates those sessions right after the
 * step commits.
 */
import { describe, expect, test } from "bun:test"
import { Session } from "batonjs"
import lobby, { type LobbyState, type LobbyView, MATCH_SIZE, RECENT } from "../games/lobby.ts"

const T0 = 1_700_000_000_000
let actionId = 1

function lobbyWith(players: string[]): Session<typeof lobby> {
  const s = Session.create(lobby, { id: "lobby-1", now: T0 })
  for (const p of players) expect(s.join(p, T0)).toMatchObject({ ok: true })
  return s
}
const act = (s: Session<typeof lobby>, player: string, name: "queue" | "cancel", now = T0) =>
  s.act({ player, client: `c-${player}`, id: actionId++, name, input: {}, now })
const viewOf = (s: Session<typeof lobby>, p: string) => s.view(p) as LobbyView
const stateOf = (s: Session<typeof lobby>) => s.record.state as LobbyState

describe("lobby: matchmaking", () => {
  test(`a match is made as soon as ${MATCH_SIZE} players are queued`, () => {
    const s = lobbyWith(["ada", "bob", "cy"])
    expect(act(s, "ada", "queue")).toEqual({ ok: true, value: { position: 1 } })
    expect(viewOf(s, "ada")).toMatchObject({ queued: true, position: 1, waiting: 1, match: null })
    expect(s.takeSpawns()).toEqual([])

    const out = act(s, "bob", "queue")
    const [spawned] = s.takeSpawns()
    expect(spawned).toEqual({ id: expect.any(String), game: "duel", options: { players: ["ada", "bob"] } })
    expect(out).toEqual({ ok: true, value: { session: spawned?.id } })
    expect(viewOf(s, "ada").match).toEqual({ session: spawned?.id as string, opponents: ["bob"] })
    expect(viewOf(s, "bob").match).toEqual({ session: spawned?.id as string, opponents: ["ada"] })
    expect(viewOf(s, "ada")).toMatchObject({ queued: false, waiting: 0 })
    expect(s.takeEvents()).toContainEqual({ event: "matched", data: { session: spawned?.id, players: ["ada", "bob"] }, to: ["ada", "bob"] })
  })

  test("a player sees their own match and place, never the others' names or sessions", () => {
    const s = lobbyWith(["ada", "bob", "cy", "dee"])
    act(s, "ada", "queue")
    act(s, "bob", "queue")
    act(s, "cy", "queue")
    const dee = viewOf(s, "dee")
    expect(dee).toMatchObject({ queued: false, position: null, waiting: 1, match: null })
    expect(JSON.stringify(dee)).not.toContain(stateOf(s).matches.ada?.session as string)
    expect(JSON.stringify(dee)).not.toContain('"cy"') // who waits is not shown
    // The board of recent matches names the players, not where they play.
    expect(dee.recent).toEqual([{ players: ["ada", "bob"], at: T0 }])
  })

  test("queueing again replaces the last match; each spawn has its own id", () => {
    const s = lobbyWith(["ada", "bob"])
    act(s, "ada", "queue")
    act(s, "bob", "queue")
    const first = viewOf(s, "ada").match?.session
    act(s, "ada", "queue")
    expect(viewOf(s, "ada").match).toBeNull()
    expect(viewOf(s, "bob").match?.session).toBe(first as string)
    act(s, "bob", "queue")
    const second = viewOf(s, "ada").match?.session
    expect(second).toBeString()
    expect(second).not.toBe(first as string)
    expect(stateOf(s).made).toBe(2)
  })

  test("cancel and leave take a player out of the queue", () => {
    const s = lobbyWith(["ada", "bob", "cy"])
    act(s, "ada", "queue")
    expect(act(s, "ada", "queue")).toMatchObject({ ok: false, code: "already_queued" })
    expect(act(s, "ada", "cancel")).toEqual({ ok: true })
    expect(act(s, "ada", "cancel")).toMatchObject({ ok: false, code: "not_queued" })
    act(s, "bob", "queue")
    s.leave("bob", T0 + 1)
    act(s, "cy", "queue")
    expect(viewOf(s, "cy")).toMatchObject({ queued: true, position: 1, waiting: 1 })
    expect(stateOf(s).online).toBe(2)
    expect(s.takeSpawns()).toEqual([])
  })

  test(`the board keeps the last ${RECENT} matches`, () => {
    const s = lobbyWith(["ada", "bob"])
    for (let i = 0; i < RECENT + 3; i++) {
      act(s, "ada", "queue", T0 + i)
      act(s, "bob", "queue", T0 + i)
    }
    expect(stateOf(s).recent).toHaveLength(RECENT)
    expect(stateOf(s).recent[0]?.at).toBe(T0 + RECENT + 2)
    expect(s.takeSpawns()).toHaveLength(RECENT + 3)
  })
})
