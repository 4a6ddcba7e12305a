import { afterEach, describe, expect, test } from "bun:test"
import { type AnyGame, idProblem, Session, v } from "batonjs"
import fc from "fast-check"
import { EVERY_GAME, HOSTILE_IDS, hostileInput, intrinsicsChanged, intrinsicsSnapshot, restoreIntrinsics } from "../support/hostile.ts"

const T0 = 1_700_000_000_000
const baseline = intrinsicsSnapshot()
afterEach(() => restoreIntrinsics(baseline)) // a failure must not poison the tests after it

type Step =
  | { kind: "join"; player: string }
  | { kind: "act"; player: string; client: string; name: string; input: unknown }
  | { kind: "leave"; player: string }
  | { kind: "advance"; ms: number }

const id = fc.oneof(fc.constantFrom(...HOSTILE_IDS), fc.string({ maxLength: 70 }), fc.string({ unit: "binary", maxLength: 6 }))

function steps(game: AnyGame): fc.Arbitrary<Step[]> {
  const name = fc.oneof(fc.constantFrom(...Object.keys(game.actions)), fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty"))
  return fc.array(
    fc.oneof(
      fc.record({ kind: fc.constant("join" as const), player: id }),
      fc.record({ kind: fc.constant("act" as const), player: id, client: id, name, input: hostileInput }),
      fc.record({ kind: fc.constant("leave" as const), player: id }),
      fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 20_000 }) }),
    ),
    { maxLength: 30 },
  )
}

/** Options a session of `game` can start with, whoever its players are. */
function optionsFor(game: AnyGame, players: string[]): unknown {
  return game.name === "duel" ? { players } : undefined
}

describe("every example game and template, played with hostile ids and inputs (pure runtime)", () => {
  for (const game of EVERY_GAME) {
    test(`${game.name}: nothing throws, nothing reaches a prototype, reserved ids are refused with a reason`, () => {
      fc.assert(
        fc.property(steps(game), fc.tuple(id, id), (plan, pair) => {
          let s: Session
          try {
            s = Session.create(game, { id: "s1", now: T0, seed: "hostile", options: optionsFor(game, pair) })
          } catch (error) {
            // Only hostile options may be refused, and only with a reason.
            expect(pair.some((p) => idProblem(p))).toBe(true)
            expect((error as { code?: string }).code).toBe("invalid_options")
            return
          }
          let now = T0
          let seq = 0
          for (const step of plan) {
            now += 1
            if (step.kind === "join") {
              const out = s.join(step.player, now)
              if (idProblem(step.player)) expect(out).toMatchObject({ ok: false, code: "invalid_id" })
              else expect(out.ok === true || out.code !== "invalid_id").toBe(true)
            } else if (step.kind === "act") {
              const out = s.act({ player: step.player, client: step.client, id: ++seq, name: step.name, input: step.input, now })
              if (!out.ok && out.code === "game_error") throw new Error(`game code failed on ${JSON.stringify(step)}: ${out.message}`)
            } else if (step.kind === "leave") s.leave(step.player, now)
            else s.advance((now += step.ms))
            expect(intrinsicsChanged(baseline)).toEqual([])
          }
          // What a node stores and sends stays plain, schema-valid JSON.
          const record = JSON.parse(JSON.stringify(s.record))
          expect(v.safeParse(game.state, record.state).success).toBe(true)
          for (const key of Object.keys(record.clients)) expect(idProblem(key)).toBeUndefined()
        }),
        { numRuns: 150, seed: 0xba70 },
      )
    })
  }

  test("the attack from the issue: joining the counter as __proto__ or constructor and acting is refused and changes no object", () => {
    const counter = EVERY_GAME.find((g) => g.name === "counter")!
    const s = Session.create(counter, { id: "c1", now: T0 })
    for (const player of ["__proto__", "constructor", "toString"]) {
      expect(s.join(player, T0)).toMatchObject({ ok: false, code: "invalid_id", message: expect.stringContaining("reserved") })
      expect(s.act({ player, client: "c", id: 1, name: "inc", input: { by: 1 }, now: T0 })).toMatchObject({ ok: false })
    }
    expect(s.join("ada", T0).ok).toBe(true)
    expect(s.act({ player: "ada", client: "__proto__", id: 1, name: "inc", input: { by: 1 } , now: T0 })).toMatchObject({ ok: false, code: "invalid_id" })
    expect(s.act({ player: "ada", client: "c", id: 1, name: "inc", input: { by: 2 }, now: T0 })).toEqual({ ok: true, value: 2 })
    expect(({} as { count?: unknown }).count).toBeUndefined()
    expect((Object as unknown as { count?: unknown }).count).toBeUndefined()
    expect(intrinsicsChanged(baseline)).toEqual([])
  })
})
