import { describe, expect, test } from "bun:test"
import { defineGame, GameLoadError, Session, type SessionRecord, v } from "batonjs"

const T0 = 1_700_000_000_000

const actions = {
  noop: {
    input: v.object({}),
    apply() {},
  },
}

/** Version 1: a flat score. */
const v1 = defineGame({
  name: "scores",
  version: 1,
  players: { min: 1, max: 4 },
  state: v.object({ score: v.number() }),
  setup: () => ({ score: 7 }),
  actions,
  timers: { ding() {} },
})

const migrations: number[] = []
/** Version 2 adds a level; version 3 nests both under `stats`. */
const v3 = defineGame({
  name: "scores",
  version: 3,
  players: { min: 1, max: 4 },
  state: v.object({ stats: v.object({ score: v.number(), level: v.number() }) }),
  setup: () => ({ stats: { score: 0, level: 1 } }),
  actions,
  timers: { ding() {} },
  migrate: {
    1: (old: { score: number }) => {
      migrations.push(1)
      const out = old as { score: number; level?: number }
      out.level = 1 // mutating the old value in place must not reach the stored record
      return out
    },
    2: (old: { score: number; level: number }) => {
      migrations.push(2)
      return { stats: { score: old.score, level: old.level } }
    },
  },
})

function storedV1(): SessionRecord {
  const s = Session.create(v1, { id: "old", now: T0, seed: "seed" })
  s.join("p1", T0)
  s.act({ player: "p1", client: "c1", id: 1, name: "noop", input: {}, now: T0 + 1 })
  // A timer pending across the upgrade.
  return JSON.parse(JSON.stringify({ ...s.record, timers: [{ id: 1, name: "ding", at: T0 + 500, payload: null }], nextTimerId: 2 }))
}

function loadError(fn: () => unknown): GameLoadError {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(GameLoadError)
    expect((e as Error).name).toBe("GameLoadError")
    return e as GameLoadError
  }
  throw new Error("expected a GameLoadError")
}

describe("Session.resume: migration", () => {
  test("a version-1 record under a version-3 game runs migrate[1] then migrate[2] and validates", () => {
    migrations.length = 0
    const stored = storedV1()
    const copy = structuredClone(stored)
    const s = Session.resume(v3, stored)
    expect(migrations).toEqual([1, 2])
    expect(s.record.version).toBe(3)
    expect(s.record.state).toEqual({ stats: { score: 7, level: 1 } })
    // Everything but the state and its version carries over.
    expect({ ...s.record, state: null, version: null }).toEqual({ ...copy, state: null, version: null })
    // The stored record itself is not touched (migrate[1] mutates what it gets).
    expect(stored).toEqual(copy)
    // And the session runs on: the exactly-once ledger and the timers survived.
    expect(s.appliedSeq("c1")).toBe(1)
    expect(s.act({ player: "p1", client: "c1", id: 1, name: "noop", input: {}, now: T0 + 2 })).toEqual({ ok: true, duplicate: true })
    expect(s.nextWakeAt()).toBe(T0 + 500)
  })

  test("a version-2 record runs only migrate[2]", () => {
    migrations.length = 0
    const record = { ...storedV1(), version: 2, state: { score: 3, level: 9 } }
    expect(Session.resume(v3, record).record.state).toEqual({ stats: { score: 3, level: 9 } })
    expect(migrations).toEqual([2])
  })

  test("a record of the game's own version is validated, not migrated", () => {
    migrations.length = 0
    const current = Session.create(v3, { id: "cur", now: T0 })
    const resumed = Session.resume(v3, JSON.parse(JSON.stringify(current.record)))
    expect(resumed.record).toEqual(current.record)
    expect(migrations).toEqual([])
    const broken = { ...current.record, state: { stats: { score: "high", level: 1 } } }
    const e = loadError(() => Session.resume(v3, broken))
    expect(e.code).toBe("invalid_state")
    expect(e.message).toContain("stats.score")
  })

  test("a missing step is no_migration, naming the step", () => {
    const gap = defineGame({ ...v3, migrate: { 1: v3.migrate?.[1] as (old: unknown) => unknown } })
    const e = loadError(() => Session.resume(gap, storedV1()))
    expect(e.code).toBe("no_migration")
    expect(e.message).toBe('"scores" has no migrate[2] to bring session old from version 2 to 3')
    const none = defineGame({ ...v3, migrate: undefined })
    const e2 = loadError(() => Session.resume(none, storedV1()))
    expect(e2.code).toBe("no_migration")
    expect(e2.message).toContain("migrate[1]")
    expect(e2.message).toContain("from version 1 to 2")
  })

  test("a migrate result that fails the schema is invalid_state, naming the field", () => {
    const sloppy = defineGame({ ...v3, migrate: { ...v3.migrate, 2: (old: { score: number }) => ({ stats: { score: old.score } }) } })
    const e = loadError(() => Session.resume(sloppy, storedV1()))
    expect(e.code).toBe("invalid_state")
    expect(e.message).toContain("stats.level")
    expect(e.message).toContain("state version 1")
    expect(e.message).toContain('"scores" v3 schema')
  })

  test("a migrate step that throws is migration_failed", () => {
    const crashing = defineGame({
      ...v3,
      migrate: {
        ...v3.migrate,
        2: () => {
          throw new Error("cannot read level")
        },
      },
    })
    const e = loadError(() => Session.resume(crashing, storedV1()))
    expect(e.code).toBe("migration_failed")
    expect(e.message).toBe('migrate[2] of "scores" threw: cannot read level')
  })

  test("a record newer than the game is version_too_new", () => {
    const future = { ...storedV1(), version: 4, state: { stats: { score: 1, level: 1 }, extra: true } }
    const e = loadError(() => Session.resume(v3, future))
    expect(e.code).toBe("version_too_new")
    expect(e.message).toContain("version 4")
    expect(e.message).toContain("version 3")
    const e1 = loadError(() => Session.resume(v1, { ...storedV1(), version: 3 }))
    expect(e1.code).toBe("version_too_new")
  })

  test("a record of another game is refused", () => {
    const other = defineGame({ ...v1, name: "other" })
    const e = loadError(() => Session.resume(other, storedV1()))
    expect(e.code).toBe("game_error")
    expect(e.message).toContain('"scores" game, not "other"')
  })
})

describe("Session.resume: a version that brings ticks", () => {
  test("ticks start on a record that had none", () => {
    const ticking = defineGame({
      ...v3,
      version: 3,
      tick: {
        hz: 10,
        apply({ state }) {
          state.stats.level++
        },
      },
    })
    const record = storedV1()
    expect(record.tickAt).toBeNull()
    const s = Session.resume(ticking, record)
    expect(s.record.tickAt).toBe(record.activeAt)
    expect(s.nextWakeAt()).toBe(record.activeAt + 100)
    s.advance(record.activeAt + 60_000)
    expect(s.record.state.stats.level).toBe(1 + 5) // caught up, capped
    expect(s.record.tickAt).toBe(record.activeAt + 60_000)
  })
})

describe("Session.resume: a move", () => {
  const dice = defineGame({
    name: "dice",
    version: 1,
    players: { min: 1, max: 2 },
    state: v.object({ rolls: v.array(v.number()) }),
    setup: ({ rng }) => ({ rolls: [rng.int(1, 6)] }),
    actions: {
      roll: {
        input: v.object({ n: v.number() }),
        apply({ state, rng, input }) {
          const got = Array.from({ length: input.n }, () => rng.int(1, 1000))
          state.rolls.push(...got)
          return got
        },
      },
    },
  })

  test("a session resumed from a JSON copy answers exactly as the original", () => {
    const original = Session.create(dice, { id: "d", now: T0 })
    original.join("a", T0)
    original.join("b", T0)
    original.act({ player: "a", client: "ca", id: 1, name: "roll", input: { n: 3 }, now: T0 })
    const copy = JSON.parse(JSON.stringify(original.record)) as SessionRecord
    const moved = Session.resume(dice, copy)
    expect(moved.record).toEqual(original.record)
    expect(moved.seatOf("b")).toBe(1)
    expect(moved.view("a")).toEqual(original.view("a"))
    let id = 2
    for (const player of ["a", "b", "a", "b"]) {
      const req = { player, client: `c${player}`, id: id++, name: "roll", input: { n: 2 }, now: T0 + id }
      expect(moved.act(req)).toEqual(original.act(req))
    }
    expect(moved.record).toEqual(original.record)
    // Resends after the move get the answers given before it.
    expect(moved.act({ player: "a", client: "ca", id: 1, name: "roll", input: { n: 3 }, now: T0 + 99 })).toEqual(
      original.act({ player: "a", client: "ca", id: 1, name: "roll", input: { n: 3 }, now: T0 + 99 }),
    )
  })
})
