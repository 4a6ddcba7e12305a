import { createHmac, randomBytes } from "node:crypto"
import { idProblem } from "../game/index.ts"
import { type Authenticate, signPlayerToken, verifyPlayerToken } from "./player-auth.ts"

/**
 * Where a node authenticates its players, every player the playground seats
 * has an id starting with this: an operator can try a game as
 * "playground:ada", never as a real player. Apps must not give real players
 * ids that start with it.
 */
export const PLAYGROUND_PREFIX = "playground:"

/** How long a playground player's token is good for; the page asks for a fresh one on every (re)connect. */
const TOKEN_TTL_S = 3600

/** A playground player: the id the game sees, and what its connection presents (none where ids are self-declared). */
export interface PlaygroundPlayer {
  player: string
  token?: string
}

/** Seats the playground's players (see playgroundPlayers). */
export interface PlaygroundPlayers {
  /** Whether the node authenticates players: then ids carry PLAYGROUND_PREFIX and a token. */
  readonly authenticated: boolean
  /** The player named `name`, or why the name cannot be one. */
  issue(name: string): PlaygroundPlayer | { problem: string }
}

/**
 * Credentials for the playground's players. A node that takes self-declared
 * ids needs none: the name is the id. A node that authenticates players
 * (`authenticate`, or BATON_PLAYER_SECRET) accepts, besides them, tokens
 * signed with a key derived from `secret` for ids under PLAYGROUND_PREFIX
 * only: an operator cannot stand in for a real player. Give every node of a
 * cluster the same `secret` (startNode uses the player secret, else the
 * cluster secret, else the admin token), so a reconnect to another node is
 * accepted; without one a key is made up per process.
 */
export function playgroundPlayers(appAuth: Authenticate | undefined, secret: string | undefined): { players: PlaygroundPlayers; authenticate: Authenticate | undefined } {
  if (!appAuth)
    return {
      authenticate: undefined,
      players: { authenticated: false, issue: (name) => checked(name) ?? { player: name } },
    }
  const key = createHmac("sha256", secret ?? randomBytes(32).toString("base64url")).update("baton playground players").digest("base64url")
  return {
    players: {
      authenticated: true,
      issue(name) {
        const player = PLAYGROUND_PREFIX + name
        return checked(name) ?? checked(player) ?? { player, token: signPlayerToken(key, player, TOKEN_TTL_S) }
      },
    },
    // A playground token names its player; anything else is the app's to judge, outside the playground's ids.
    async authenticate(request) {
      const token = new URL(request.url).searchParams.get("token")
      const check = token ? verifyPlayerToken(key, token) : undefined
      if (check?.ok && check.player.startsWith(PLAYGROUND_PREFIX)) return check.player
      const player = await appAuth(request)
      // A real player seated as "playground:ada" would be the operator's trial seat, and the other way round.
      if (typeof player === "string" && player.startsWith(PLAYGROUND_PREFIX))
        throw new Error(`the app's authenticate returned the player id "${player}": ids starting with "${PLAYGROUND_PREFIX}" are the playground's, and no real player may hold one`)
      return player
    },
  }
}

function checked(player: string): { problem: string } | undefined {
  const problem = idProblem(player)
  return problem ? { problem: `the player id ${problem}` } : undefined
}
