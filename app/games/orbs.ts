/**
 * Orbs: a real-time game driven by ticks. Each player steers a dot around an
 * arena; orbs appear at random places and touching one scores a point. The
 * round starts when the first player joins and ends after ROUND_MS.
 */
import { defineGame, type Rng, v } from "batonjs"

export const ARENA = { w: 800, h: 500 }
/** Arena units per second. */
export const SPEED = 220
export const PLAYER_RADIUS = 12
export const ORB_RADIUS = 8
export const ROUND_MS = 90_000
export const TICK_HZ = 20

/** Positions are kept to 0.01 so that the per-tick deltas stay short. */
const round2 = (x: number) => Math.round(x * 100) / 100
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x))

const Dot = v.object({
  x: v.number(),
  y: v.number(),
  /** Unit direction (or 0, 0 to stand still). */
  dx: v.number(),
  dy: v.number(),
  score: v.number(),
  /** Palette index on the client. */
  color: v.number(),
})

const State = v.object({
  phase: v.picklist(["waiting", "playing", "ended"]),
  arena: v.object({ w: v.number(), h: v.number() }),
  players: v.record(v.string(), Dot),
  orbs: v.array(v.object({ id: v.number(), x: v.number(), y: v.number() })),
  nextOrbId: v.number(),
  /** When the round ends (ms since the epoch), once it has started. */
  endsAt: v.nullable(v.number()),
  winners: v.array(v.string()),
})
export type OrbsState = v.InferOutput<typeof State>

/** How many orbs lie in the arena at most: more players, more orbs. */
const orbTarget = (players: number) => 3 + 2 * players

function spawnOrb(s: OrbsState, rng: Rng): void {
  const m = ORB_RADIUS * 2
  s.orbs.push({ id: s.nextOrbId++, x: rng.int(m, ARENA.w - m), y: rng.int(m, ARENA.h - m) })
}

/** A steering direction: each component in [-1, 1]; longer than 1 is scaled down to a unit vector. */
const Direction = v.pipe(v.number(), v.finite(), v.minValue(-1), v.maxValue(1))

export default defineGame({
  name: "orbs",
  version: 1,
  players: { min: 1, max: 8 },
  state: State,
  setup({ rng }) {
    const s: OrbsState = { phase: "waiting", arena: { ...ARENA }, players: {}, orbs: [], nextOrbId: 1, endsAt: null, winners: [] }
    for (let i = 0; i < orbTarget(1); i++) spawnOrb(s, rng)
    return s
  },

  onJoin({ state: s, player, rng, now, timers, emit }) {
    const taken = new Set(Object.values(s.players).map((p) => p.color))
    let color = 0
    while (taken.has(color)) color++
    const m = PLAYER_RADIUS * 2
    s.players[player] = { x: rng.int(m, ARENA.w - m), y: rng.int(m, ARENA.h - m), dx: 0, dy: 0, score: 0, color }
    if (s.phase === "waiting") {
      s.phase = "playing"
      s.endsAt = now + ROUND_MS
      timers.after(ROUND_MS, "roundOver")
      emit("start", { endsAt: s.endsAt })
    }
  },

  onLeave({ state: s, player }) {
    delete s.players[player]
  },

  actions: {
    steer: {
      input: v.object({ dx: Direction, dy: Direction }),
      apply({ state: s, input, player, reject }) {
        const me = s.players[player]
        if (!me) return reject("not_playing", `${player} has no dot in this arena`)
        if (s.phase !== "playing") return reject("round_over", "the round is over")
        const len = Math.hypot(input.dx, input.dy)
        const k = len > 1 ? 1 / len : 1
        me.dx = round2(input.dx * k)
        me.dy = round2(input.dy * k)
      },
    },
  },

  tick: {
    hz: TICK_HZ,
    apply({ state: s, dt, rng, emit }) {
      if (s.phase !== "playing") return
      for (const [id, p] of Object.entries(s.players)) {
        if (p.dx !== 0 || p.dy !== 0) {
          const x = round2(clamp(p.x + p.dx * SPEED * dt, PLAYER_RADIUS, ARENA.w - PLAYER_RADIUS))
          const y = round2(clamp(p.y + p.dy * SPEED * dt, PLAYER_RADIUS, ARENA.h - PLAYER_RADIUS))
          if (x !== p.x) p.x = x
          if (y !== p.y) p.y = y
        }
        const reach = PLAYER_RADIUS + ORB_RADIUS
        for (let i = s.orbs.length - 1; i >= 0; i--) {
          const o = s.orbs[i] as OrbsState["orbs"][number]
          if ((o.x - p.x) ** 2 + (o.y - p.y) ** 2 > reach * reach) continue
          s.orbs.splice(i, 1)
          p.score++
          emit("collect", { player: id, orb: o.id, score: p.score })
        }
      }
      // Refill gradually (about two orbs a second) so the arena never empties nor floods.
      if (s.orbs.length < orbTarget(Object.keys(s.players).length) && rng.chance(0.1)) spawnOrb(s, rng)
    },
  },

  timers: {
    roundOver({ state: s, end }) {
      const scores = Object.fromEntries(Object.entries(s.players).map(([id, p]) => [id, p.score]))
      const best = Math.max(0, ...Object.values(scores))
      s.winners = best > 0 ? Object.keys(scores).filter((id) => scores[id] === best) : []
      s.phase = "ended"
      s.endsAt = null
      for (const p of Object.values(s.players)) {
        p.dx = 0
        p.dy = 0
      }
      end({ winners: s.winners, scores })
    },
  },
})
