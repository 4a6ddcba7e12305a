/** The counter: the benchmark game, playable by hand. */
import { ActionError, join } from "batonjs/client"
import type counter from "../games/counter.ts"
import { byId, el, fatal, seatFromUrl, showConnection, toast } from "./common.ts"

const seat = seatFromUrl()
if (!seat) location.replace("/")
else start(seat.session, seat.player)

async function start(sessionId: string, player: string): Promise<void> {
  byId("who").textContent = `playing as ${player}`
  const session = await join<typeof counter>({ session: sessionId, player }).catch((e) => {
    fatal(byId("main"), `Cannot join session ${sessionId}: ${e instanceof Error ? e.message : e}`)
    return null
  })
  if (!session) return
  showConnection(byId("conn"), session)
  const render = () => {
    const s = session.state
    byId("total").textContent = String(s.total)
    byId("scores").replaceChildren(
      ...Object.entries(s.players)
        .sort((a, b) => b[1].count - a[1].count)
        .map(([id, p]) => {
          const li = el("li", id === player ? "turn" : "")
          li.append(el("span", "", id === player ? `${id} (you)` : id), el("span", "score", String(p.count)))
          return li
        }),
    )
  }
  const inc = (by: number) => session.act("inc", { by }).catch((e) => toast(e instanceof ActionError ? e.message : String(e), "error"))
  byId("inc1").addEventListener("click", () => inc(1))
  byId("inc5").addEventListener("click", () => inc(5))
  render()
  session.subscribe(render)
}
