/**
 * Compile-time checks of the types that flow from a game definition. Not run:
 * `tsc --noEmit` must accept every line, and every `@ts-expect-error` must
 * point at a real error (tsc reports an unused one). Run by typecheck.test.ts.
 */
import { type StateOf, type TimerControl, type ViewOf, defineGame, turns, turnsSchema, turnTimerSchema, v } from "batonjs"
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
        timers.at(Date.now(), "heal", { who: input.target, amount: 2 })
        // @ts-expect-error only timers defined in `timers` can be scheduled
        timers.after(1000, "explode")
        // @ts-expect-error only timers defined in `timers` can be cancelled by name
        timers.cancelAll("explode")
        // @ts-expect-error the payload is checked against the timer's schema: who is a string
        timers.after(1000, "heal", { who: 7 })
        // @ts-expect-error a payload the schema requires is required
        timers.after(1000, "heal")
        // @ts-expect-error the payload has only the schema's fields
        timers.at(0, "heal", { who: "bob", power: 9 })
        // A bare handler takes any payload, or none.
        timers.after(10, "shake")
        timers.after(10, "shake", { anything: [1, 2] })
        healLater(timers, input.target)
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
  onJoin({ timers }) {
    timers.after(1, "shake")
    // @ts-expect-error every hook's timers are the game's: a wrong payload is an error there too
    timers.after(1, "heal", { who: null })
  },
  timers: {
    heal: {
      payload: v.object({ who: v.string(), amount: v.optional(v.pipe(v.number(), v.integer())) }),
      apply({ state, payload, timers }) {
        // The handler's payload is typed from the schema: no cast.
        const who: string = payload.who
        const amount: number | undefined = payload.amount
        // @ts-expect-error the payload's fields keep their types
        const wrongWho: number = payload.who
        // @ts-expect-error the payload has only the schema's fields
        payload.power
        state.hp[who] = (state.hp[who] ?? 0) + (amount ?? 1)
        timers.after(1000, "heal", { who })
        void wrongWho
      },
    },
    shake({ payload }) {
      // @ts-expect-error a bare handler's payload is unknown: it must be checked before use
      payload.anything
    },
  },
  view: (state, player) => ({ phase: state.phase, hp: state.hp, mine: state.secret[player] ?? null }),
})

/** A helper that schedules a timer names the timers it needs; the game's context fits it. */
function healLater(timers: TimerControl<{ heal: { who: string } }>, who: string) {
  timers.after(500, "heal", { who })
  // @ts-expect-error a helper's timers are checked like the game's
  timers.after(500, "heal", { whom: who })
}

/** The rest of a small game, for the checks below. */
const counterParts = { version: 1, players: { min: 1, max: 2 }, state: v.object({ n: v.number() }), setup: () => ({ n: 0 }) }

// Timers that are all bare handlers: their names are still known.
defineGame({
  ...counterParts,
  name: "bare",
  actions: {
    go: {
      input: v.object({}),
      apply({ timers }) {
        timers.after(1, "ping", 1)
        // @ts-expect-error only `ping` is a timer of this game
        timers.after(1, "pong")
      },
    },
  },
  timers: {
    ping({ state }) {
      state.n++
    },
  },
})

// No timers: nothing can be scheduled.
defineGame({
  ...counterParts,
  name: "quiet",
  actions: {
    go: {
      input: v.object({}),
      apply({ timers }) {
        // @ts-expect-error this game has no timers
        timers.after(1, "ping")
      },
    },
  },
})

// The turns helper's clock timer carries `{ turn }`, declared with turnTimerSchema.
const clock = { ms: 1000, timer: "turnOver" as const }
const turnParts = { version: 1, players: { min: 1, max: 2 }, state: v.object({ turns: turnsSchema }), setup: () => ({ turns: turns.create() }) }
defineGame({
  ...turnParts,
  name: "turny",
  onJoin(ctx) {
    ctx.state.turns.order.push(ctx.player)
    turns.pass(ctx.state.turns, ctx, clock)
  },
  actions: {},
  timers: {
    turnOver: {
      payload: turnTimerSchema,
      apply(ctx) {
        const turn: number = ctx.payload.turn
        if (turns.isCurrent(ctx.state.turns, ctx.payload)) turns.pass(ctx.state.turns, ctx, clock)
        void turn
      },
    },
  },
})

defineGame({
  ...turnParts,
  name: "turny",
  onJoin(ctx) {
    // @ts-expect-error a turn clock's timer must take the `{ turn }` payload
    turns.pass(ctx.state.turns, ctx, clock)
  },
  actions: {},
  timers: { turnOver: { payload: v.object({ round: v.number() }), apply() {} } },
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
