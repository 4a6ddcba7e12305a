import { idProblem } from "../game/index.ts"
import { BatonError } from "../node/index.ts"

/** A session id from a URL, checked by the rule every id from outside follows (game/ids.ts). */
export function sessionParam(id: string): string {
  const bad = idProblem(id)
  if (bad) throw new BatonError("invalid_id", `session id ${bad}`, 400)
  return id
}
