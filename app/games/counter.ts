import { defineGame, v } from "batonjs"

export default defineGame({
  name: "counter",
  version: 1,
  players: { min: 1, max: 100 },
  state: v.object({ total: v.number(), players: v.record(v.string(), v.object({ count: v.number() })) }),
  setup: () => ({ total: 0, players: {} }),
  actions: {
    inc: {
      input: v.object({ by: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10)) }),
      apply({ state, input, player }) {
        const me = (state.players[player] ??= { count: 0 })
        me.count += input.by
        state.total += input.by
        return state.total
      },
    },
  },
})
