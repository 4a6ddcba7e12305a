import * as v from "valibot"

/**
 * Ids that come from outside (players, clients, sessions) end up as keys:
 * in the runtime's ledgers and in game state, where every example indexes
 * its players as `state.players[player]`. A key that names a property every
 * object inherits hands game code the shared prototype instead of
 * `undefined` (`state.players["__proto__"] ??= {}` is `Object.prototype`,
 * and a write through it lands on every object of the process). So such
 * names are refused where they enter, with a reason, rather than made safe
 * in each place that indexes by them: a game author should not have to
 * know this. See docs/security.md.
 */
export const RESERVED_IDS: ReadonlySet<string> = new Set([
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "toLocaleString",
  "valueOf",
  "hasOwnProperty",
  "isPrototypeOf",
  "propertyIsEnumerable",
  "__defineGetter__",
  "__defineSetter__",
  "__lookupGetter__",
  "__lookupSetter__",
])

export const MAX_ID_LENGTH = 64

// Controls, format characters (bidi overrides, zero-width), unpaired surrogates,
// private use and unassigned code points, line and paragraph separators: text that
// renders as something else in logs, dashboards and other players' screens.
const INVISIBLE = /[\p{C}\u2028\u2029]/u

/** Why `id` cannot name a player, a client or a session, or undefined when it can. */
export function idProblem(id: unknown): string | undefined {
  if (typeof id !== "string") return "must be a string"
  if (id.length === 0) return "must not be empty"
  if (id.length > MAX_ID_LENGTH) return `must be at most ${MAX_ID_LENGTH} characters (got ${id.length})`
  if (RESERVED_IDS.has(id)) return `${JSON.stringify(id)} is reserved: every JavaScript object has a property of that name`
  if (INVISIBLE.test(id)) return "must not contain control, format or unassigned characters"
  if (id.trim() !== id) return "must not start or end with whitespace"
  return undefined
}

/**
 * A valibot schema for a string a game uses as a key of its state (a name
 * chosen by a player, a team): the same rule as player ids.
 *
 * @example
 * input: v.object({ team: safeId })   // then `state.teams[input.team]` is safe
 */
export const safeId = v.pipe(
  v.string(),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return
    const problem = idProblem(dataset.value)
    if (problem) addIssue({ message: problem })
  }),
)
