import { describe, expect, test } from "bun:test"
import { signPlayerToken, verifyPlayerToken } from "../../framework/server/player-auth.ts"
import { PLAYGROUND_PREFIX, type PlaygroundPlayer, playgroundPlayers } from "../../framework/server/playground-players.ts"

const wsRequest = (token?: string) => new Request(`http://127.0.0.1:3000/ws${token ? `?token=${encodeURIComponent(token)}` : ""}`)
/** The app's own credentials: its signed tokens, as BATON_PLAYER_SECRET accepts them. */
const APP_SECRET = "app-player-secret"
const appAuth = (request: Request) => {
  const token = new URL(request.url).searchParams.get("token")
  const check = token ? verifyPlayerToken(APP_SECRET, token) : undefined
  return check?.ok ? check.player : null
}

describe("the playground's players", () => {
  test("where ids are self-declared, the name is the id, with no token and no authentication added", () => {
    const { players, authenticate } = playgroundPlayers(undefined, "whatever")
    expect(authenticate).toBeUndefined()
    expect(players.authenticated).toBe(false)
    expect(players.issue("ada")).toEqual({ player: "ada" })
    for (const name of ["", " ada", "__proto__", "x".repeat(65), "a\u202eb"]) expect(players.issue(name)).toEqual({ problem: expect.stringMatching(/^the player id /) })
  })

  test("where players are authenticated: a prefixed id and a token the node accepts besides the app's own", async () => {
    const { players, authenticate } = playgroundPlayers(appAuth, "cluster-secret")
    expect(players.authenticated).toBe(true)
    const ada = players.issue("ada") as PlaygroundPlayer
    expect(ada.player).toBe(`${PLAYGROUND_PREFIX}ada`)
    expect(await authenticate?.(wsRequest(ada.token))).toBe("playground:ada")
    // The app's players are still the app's to judge.
    expect(await authenticate?.(wsRequest(signPlayerToken(APP_SECRET, "bob")))).toBe("bob")
    expect(await authenticate?.(wsRequest())).toBeNull()
    // A playground token is not an app token, and the prefix counts against the id's length.
    expect(appAuth(wsRequest(ada.token))).toBeNull()
    expect(players.issue("x".repeat(64 - PLAYGROUND_PREFIX.length))).toHaveProperty("token")
    expect(players.issue("x".repeat(65 - PLAYGROUND_PREFIX.length))).toEqual({ problem: expect.stringContaining("at most 64") })
    expect(players.issue("__proto__")).toEqual({ problem: expect.stringContaining("reserved") })
  })

  test("an id the app's authenticate gives under the playground's prefix is refused, saying why: a real player cannot take an operator's trial seat", async () => {
    const { authenticate } = playgroundPlayers(appAuth, "cluster-secret")
    const error = await Promise.resolve(authenticate?.(wsRequest(signPlayerToken(APP_SECRET, "playground:ada")))).catch((e: Error) => e)
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).message).toContain(`returned the player id "playground:ada"`)
    expect(await authenticate?.(wsRequest(signPlayerToken(APP_SECRET, "playgroundada")))).toBe("playgroundada")
  })

  test("a node with the same secret accepts another's playground tokens (a reconnect elsewhere); another secret does not", async () => {
    const ada = playgroundPlayers(appAuth, "shared").players.issue("ada") as PlaygroundPlayer
    expect(await playgroundPlayers(appAuth, "shared").authenticate?.(wsRequest(ada.token))).toBe("playground:ada")
    expect(await playgroundPlayers(appAuth, "other").authenticate?.(wsRequest(ada.token))).toBeNull()
    // Without a secret each process makes its own key up.
    const alone = playgroundPlayers(appAuth, undefined).players.issue("ada") as PlaygroundPlayer
    expect(await playgroundPlayers(appAuth, undefined).authenticate?.(wsRequest(alone.token))).toBeNull()
  })

  test("a token altered to name a real player is refused", async () => {
    const { players, authenticate } = playgroundPlayers(appAuth, "shared")
    const { token } = players.issue("ada") as PlaygroundPlayer
    const [payload, sig] = (token as string).split(".")
    const claims = JSON.parse(Buffer.from(payload as string, "base64url").toString())
    const forged = `${Buffer.from(JSON.stringify({ ...claims, sub: "bob" })).toString("base64url")}.${sig}`
    expect(await authenticate?.(wsRequest(forged))).toBeNull()
  })
})
