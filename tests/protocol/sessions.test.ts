import { describe, expect, test } from "bun:test"
import { asPublic } from "../../framework/protocol/index.ts"

describe("what an anonymous client is shown of a peer's answer", () => {
  test("an older node's full summary (player ids and all) is cut down to the public shape here", () => {
    const fromOlderNode = {
      id: "s1",
      game: "duel",
      status: "open",
      players: [{ player: "ada", seat: 0, connected: true }],
      minPlayers: 2,
      maxPlayers: 2,
      createdAt: 5,
      activeAt: 9,
      rev: 12,
      result: null,
    }
    const shown = asPublic(fromOlderNode)
    expect(shown).toEqual({ id: "s1", game: "duel", status: "open", minPlayers: 2, maxPlayers: 2, seated: 1, createdAt: 5 })
    expect(JSON.stringify(shown)).not.toContain("ada")
  })

  test("a listing the game published is kept; what is not a session is dropped", () => {
    expect(asPublic({ id: "s2", game: "lobby", status: "open", seated: 3, minPlayers: 1, maxPlayers: 8, createdAt: 1, listing: { mode: "ranked" } })?.listing).toEqual({ mode: "ranked" })
    expect(asPublic("nope")).toBeUndefined()
    expect(asPublic({ game: "x" })).toBeUndefined()
  })
})
