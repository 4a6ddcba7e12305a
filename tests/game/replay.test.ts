import { describe, expect, test } from "bun:test"
import * as v from "valibot"
import { defineGame, type ReplayFile, ReplayError, replayFile, Session, type Step } from "../../framework/game/index.ts"
import notes from "../fixtures/app/notes.ts"

/** A history written by hand, as a node records it: the session as created, then each call that changed it. */
function history(): ReplayFile {
  const s = Session.create(notes, { id: "s1", now: 0, seed: "fixed" })
  const start = s.record
  const steps: Step[] = []
  const keep = (step: Record<string, unknown>) => steps.push({ ...step, rev: s.record.rev } as Step)
  s.join("ada", 1)
  keep({ k: "join", at: 1, player: "ada" })
  const act = (id: number, name: string, input: unknown, at: number) => {
    const out = s.act({ player: "ada", client: "c1", id, name, input, now: at })
    keep({ k: "act", at, player: "ada", client: "c1", id, name, input, ...(out.ok ? { ok: true, ...(out.value === undefined ? {} : { value: out.value }) } : { ok: false, code: out.code }) })
  }
  act(1, "add", { text: "hello" }, 2)
  act(2, "roll", {}, 3)
  act(3, "remind", { ms: 10, text: "ping" }, 4)
  act(4, "add", { text: "" }, 5) // refused: recorded all the same
  s.advance(20)
  keep({ k: "advance", at: 20, timers: ["reminder"] })
  act(5, "roll", {}, 21)
  return replayFile({ session: "s1", exportedAt: 30, start, steps, end: s.record })
}

describe("Session.replay", () => {
  test("replays a history file to the record it ended with: actions, refusals, random numbers, timers", () => {
    const file = JSON.parse(JSON.stringify(history())) as ReplayFile
    const s = Session.replay(notes, file, { check: true })
    expect(s.record).toEqual(file.end)
    expect(s.record.state.notes.map((n) => n.text)).toEqual(["hello", "ping"])
    expect(s.record.state.rolls).toHaveLength(2)
    // The first n steps only: the session as it was before the step a bug shows at.
    expect(Session.replay(notes, file, { steps: 2 }).record.state).toEqual({ notes: [{ by: "ada", text: "hello" }], secrets: {}, rolls: [] })
    expect(Session.replay(notes, file, { steps: 0 }).record).toEqual(file.start as never)
  })

  test("a file that is not a history, or is wrong somewhere, is refused with a ReplayError naming the field", () => {
    const good = history()
    const bad = (patch: (f: Record<string, unknown>) => void): unknown => {
      const f = JSON.parse(JSON.stringify(good)) as Record<string, unknown>
      patch(f)
      return f
    }
    const cases: [unknown, RegExp][] = [
      ["tests/bug.json", /pass the parsed JSON/],
      [null, /replay file: Invalid type: Expected Object/],
      [bad((f) => (f.format = "other")), /format: /],
      [bad((f) => (f.version = 2)), /version: Invalid type: Expected 1/],
      [bad((f) => delete f.start), /start: /],
      [bad((f) => ((f.steps as Step[])[1] = { k: "act", at: "soon" } as never)), /steps\.1\.at: Invalid type: Expected number/],
      [bad((f) => ((f.steps as Step[])[0] = { k: "jump", at: 1, rev: 2 } as never)), /steps\.0\.k: /],
      [bad((f) => ((f.steps as { player: string }[])[0]!.player = "__proto__")), /steps\.0\.player: "__proto__" is reserved/],
      [bad((f) => ((f.start as { rng: unknown }).rng = [1, 2, 3])), /start\.rng\.3: /],
      [bad((f) => ((f.start as { clients: unknown }).clients = JSON.parse('{"toString":{"player":"ada","seq":1,"at":1,"results":[]}}'))), /start\.clients\.toString: "toString" is reserved/],
      [bad((f) => ((f.end as { status: string }).status = "paused")), /end\.status: /],
    ]
    for (const [file, message] of cases) {
      let thrown: unknown
      try {
        Session.replay(notes, file)
      } catch (error) {
        thrown = error
      }
      expect(thrown).toBeInstanceOf(ReplayError)
      expect({ code: (thrown as ReplayError).code, message: (thrown as ReplayError).message }).toEqual({ code: "invalid_file", message: expect.stringMatching(message) })
    }
    // "__proto__", "constructor" and "prototype" keys in the file (JSON.parse makes them own keys) are dropped, never a prototype.
    const hostile = '"__proto__":{"polluted":true},"constructor":{"polluted":true}'
    const polluted = JSON.parse(JSON.stringify(good).replaceAll('"clients":{}', `"clients":{${hostile}}`).replaceAll('"clients":{"', `"clients":{${hostile},"`))
    expect(Session.replay(notes, polluted).record.clients).toEqual(good.end.clients)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  test("another game's history is refused; a game that changed since is caught by check, and replays without it", () => {
    const other = defineGame({ name: "other", version: 1, players: { min: 1, max: 1 }, state: v.object({}), setup: () => ({}), actions: {} })
    expect(() => Session.replay(other, history())).toThrow(/holds a session of "notes", not of "other"/)
    // The bug is fixed: rolls are now always 6. The replay runs the new code, and check says where it departs.
    const fixed = defineGame({
      ...notes,
      actions: {
        ...notes.actions,
        roll: { input: v.optional(v.object({})), apply: ({ state }) => void state.rolls.push(6) },
        add: { input: v.object({ text: v.string() }), apply: ({ state, input, player }) => void state.notes.push({ by: player, text: input.text }) },
      },
    })
    expect(Session.replay(fixed, history()).record.state.rolls).toEqual([6, 6])
    expect(() => Session.replay(fixed, history(), { check: true })).toThrow(/step 4 \(act "add" by ada at 5\) was refused \(invalid_input\) live, and is applied now/)
  })
})
