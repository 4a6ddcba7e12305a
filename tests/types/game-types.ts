/**
 * Compile-time checks of the types that flow from a game definition. Not run:
 * `tsc --noEmit` must accept every line, and every `@ts-expect-error` must
 * point at a real error (tsc reports an unused one). Run by typecheck.test.ts.
 */
import { type StateOf, type ViewOf, defineGame, v } from "batonjs"
import { type GameSession, join } from "batonjs/client"

const duel = defineGame({
  name: "duel",
  version: 1,
  players: { min: 2, max: 2 },
  state: v.object({
    phase: v.picklist(["lobby", "play"]),
    hp: v.record(v.string(), v.number()),
    secret: v.record(v.string(), v.string()),
  }),
  setup: () => ({ phase: "lobby" as const, hp: {}, secret: {} }),
  actions: {
    hit: {
      input: v.object({ target: v.string(), power: v.pipe(v.number(), v.integer()) }),
      apply({ state, input, reject, timers }) {
        const hp: number = state.hp[input.target] ?? 0
        const power: number = input.power
        // @ts-expect-error the input's fields are typed: power is a number
        const wrong: string = input.power
        // @ts-expect-error unknown fields of the input do not exist
        input.speed
        // @ts-expect-error the state is typed from its schema
        state.phase = "paused"
        if (hp <= 0) reject("dead", "the target is out")
        state.hp[input.target] = hp - power
        timers.after(1000, "heal", { who: input.target })
        // @ts-expect-error only timers defined in `timers` can be scheduled
        timers.after(1000, "explode")
        void wrong
        return { left: hp - power }
      },
    },
    ready: {
      input: v.optional(v.object({})),
      apply({ state }) {
        state.phase = "play"
      },
    },
  },
  timers: {
    heal({ state, payload }) {
      const { who } = payload as { who: string }
      state.hp[who] = (state.hp[who] ?? 0) + 1
    },
  },
  view: (state, player) => ({ phase: state.phase, hp: state.hp, mine: state.secret[player] ?? null }),
})

// @ts-expect-error setup must return the state's shape
defineGame({ name: "bad", version: 1, players: { min: 1, max: 1 }, state: v.object({ n: v.number() }), setup: () => ({ n: "zero" }), actions: {} })

type DuelState = StateOf<typeof duel>
const phase: DuelState["phase"] = "lobby"
// @ts-expect-error StateOf carries the schema's literal types
const badPhase: DuelState["phase"] = "over"

type DuelView = ViewOf<typeof duel>
const view: DuelView = { phase: "play", hp: {}, mine: null }
// @ts-expect-error the view type comes from `view`, which has no `secret`
const leaked: DuelView["secret"] = {}

async function client(session: GameSession<typeof duel>) {
  // act resolves to what the action's apply returns.
  const hit = await session.act("hit", { target: "bob", power: 3 })
  const left: number = hit.left
  // @ts-expect-error the result is typed: left is a number
  const leftText: string = hit.left
  // @ts-expect-error the result has only what apply returned
  hit.damage
  const ready: void = await session.act("ready")
  void [left, leftText, ready]
  // @ts-expect-error unknown action names are compile errors
  await session.act("heal", {})
  // @ts-expect-error inputs are checked against the action's schema
  await session.act("hit", { target: "bob", power: "max" })
  // @ts-expect-error required input fields are required
  await session.act("hit", { target: "bob" })
  // @ts-expect-error an action with a required input needs it
  await session.act("hit")
  const mine: string | null = session.state.mine
  // @ts-expect-error the client's state is the player's view, not the full state
  session.state.secret
  void mine
}

async function joining() {
  const s = await join<typeof duel>({ url: "http://127.0.0.1:1", session: "x", player: "p" })
  await client(s)
}

void [phase, badPhase, view, leaked, joining]
