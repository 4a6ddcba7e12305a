import type { AnyGame } from "batonjs"
import fc from "fast-check"
import counter from "../../app/games/counter.ts"
import memory from "../../app/games/memory.ts"
import orbs from "../../app/games/orbs.ts"
import duel from "../../templates/lobby/games/duel.ts"
import lobby from "../../templates/lobby/games/lobby.ts"
import pong from "../../templates/realtime/games/pong.ts"
import salvo from "../../templates/turn-based/games/salvo.ts"

/** The example app's games and every template's: what a new project starts from. */
export const EVERY_GAME: readonly AnyGame[] = [counter, memory, orbs, duel, lobby, pong, salvo]

/** Identifiers an attacker tries first: inherited property names, edge lengths, invisible characters. */
export const HOSTILE_IDS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "isPrototypeOf",
  "__defineGetter__",
  "",
  "x".repeat(64),
  "x".repeat(65),
  "a\u0000b",
  "\u202eevil",
  "zero\u200bwidth",
  "line\nbreak",
  " padded ",
  "ada",
  "bob",
  "Zoë",
  "玩家",
] as const

const KEYS = ["__proto__", "constructor", "prototype", "toString", "valueOf", "by", "cell", "index", "dx", "dy", "dir", "hand", "x", "y"]

/** Action inputs: anything JSON can carry, objects with poisoned keys, and near-valid inputs of every game. */
export const hostileInput: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.dictionary(fc.constantFrom(...KEYS), fc.oneof(fc.integer({ min: -2, max: 12 }), fc.constantFrom("rock", "paper", "scissors", "__proto__"), fc.jsonValue({ maxDepth: 2 })), { maxKeys: 4 }),
  fc.constantFrom(
    JSON.parse('{"__proto__": {"count": 1, "polluted": true}, "by": 1}'),
    JSON.parse('{"constructor": {"prototype": {"polluted": true}}, "cell": 0}'),
    { by: 1 },
    { cell: 0 },
    { index: 0 },
    { index: 1 },
    { dx: 1, dy: 0 },
    { dir: 1 },
    { hand: "rock" },
    {},
    undefined,
  ),
)

/** What a prototype-pollution attack changes: the own keys of the shared intrinsics and of Object.prototype's methods. */
const WATCHED: [string, object][] = [
  ["Object.prototype", Object.prototype],
  ["Object", Object],
  ["Array.prototype", Array.prototype],
  ["Function.prototype", Function.prototype],
  ["String.prototype", String.prototype],
  ...Object.getOwnPropertyNames(Object.prototype)
    .filter((k) => k !== "__proto__" && typeof (Object.prototype as Record<string, unknown>)[k] === "function")
    .map((k): [string, object] => [`Object.prototype.${k}`, (Object.prototype as Record<string, object>)[k] as object]),
]

export type IntrinsicsSnapshot = Map<string, string[]>

export function intrinsicsSnapshot(): IntrinsicsSnapshot {
  return new Map(WATCHED.map(([name, o]) => [name, Reflect.ownKeys(o).map(String).sort()]))
}

/** "where.key" for every own key added to a watched intrinsic since `base`. */
export function intrinsicsChanged(base: IntrinsicsSnapshot): string[] {
  const out: string[] = []
  for (const [name, o] of WATCHED) {
    const before = new Set(base.get(name))
    for (const k of Reflect.ownKeys(o)) if (!before.has(String(k))) out.push(`${name}.${String(k)}`)
  }
  return out
}

/** Undoes what `intrinsicsChanged` reports, so one failing test does not poison the next. */
export function restoreIntrinsics(base: IntrinsicsSnapshot): void {
  for (const [name, o] of WATCHED) {
    const before = new Set(base.get(name))
    for (const k of Reflect.ownKeys(o)) if (!before.has(String(k))) delete (o as Record<PropertyKey, unknown>)[k]
  }
}
