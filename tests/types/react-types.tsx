/**
 * Compile-time checks of batonjs/react: the hook's state, act and result
 * types flow from the game module as the client's do. Not run: tsc must
 * accept every line, and every `@ts-expect-error` must meet a real error
 * (typecheck.test.ts).
 */
import { defineGame, v } from "batonjs"
import type { ActionError, ConnectionStatus } from "batonjs/client"
import { SessionProvider, type SessionSnapshot, useSession, useSessionContext } from "batonjs/react"

const board = defineGame({
  name: "board",
  version: 1,
  players: { min: 2, max: 2 },
  state: v.object({ cells: v.array(v.nullable(v.string())), secret: v.string() }),
  setup: () => ({ cells: Array(9).fill(null), secret: "x" }),
  actions: {
    place: {
      input: v.object({ cell: v.pipe(v.number(), v.integer()) }),
      apply({ state, input, player }) {
        state.cells[input.cell] = player
        return { placed: input.cell }
      },
    },
    resign: {
      input: v.optional(v.object({})),
      apply({ end, player }) {
        end({ loser: player })
      },
    },
  },
  view: (state) => ({ cells: state.cells }),
})

function Board() {
  const game = useSession<typeof board>({ session: "s", player: "ada" })
  const snapshot: SessionSnapshot<typeof board> = game
  const status: ConnectionStatus = game.status
  const error: ActionError | null = game.error
  // @ts-expect-error the state is undefined until the first view arrived
  const first: string | null = game.state.cells[0]
  const cells: (string | null)[] | undefined = game.state?.cells
  // @ts-expect-error the state is the player's view: no secret
  game.state?.secret

  const play = async () => {
    const placed: number = (await game.act("place", { cell: 4 })).placed
    // @ts-expect-error the result is what apply returned: placed is a number
    const wrong: string = (await game.act("place", { cell: 4 })).placed
    // @ts-expect-error unknown action names are compile errors
    await game.act("move", { cell: 4 })
    // @ts-expect-error the input is checked against the schema
    await game.act("place", { cell: "4" })
    // @ts-expect-error a required input is required
    await game.act("place")
    await game.act("resign")
    void [placed, wrong]
  }
  void [snapshot, status, error, first, cells, play]
  return <p>{game.state?.cells.join(" ")}</p>
}

function Cell() {
  const { act, state } = useSessionContext<typeof board>()
  // @ts-expect-error useSessionContext is typed by the game named there
  void act("place", { at: 1 })
  return <button type="button" onClick={() => act("place", { cell: 1 })}>{state?.cells[1] ?? "·"}</button>
}

export const app = (
  <SessionProvider options={{ session: "s", player: "ada" }}>
    <Board />
    <Cell />
  </SessionProvider>
)

// @ts-expect-error the provider needs its options (null: no session yet)
export const bad = <SessionProvider />
export const none = <SessionProvider options={null} />
