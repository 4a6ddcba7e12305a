/** The salvo table: your fleet, the enemy waters as far as you know them, and the turn clock. */
import { ActionError, type GameSession, join } from "batonjs/client"
import type salvo from "../games/salvo.ts"
import type { SalvoView } from "../games/salvo.ts"
import { byId, el, savedName, secondsLeft, showConnection, toast } from "./common.ts"

type Salvo = GameSession<typeof salvo>

const message = byId("message")
const theirsBox = byId("theirs")
const mineBox = byId("mine")
const log = byId("log")

const query = new URLSearchParams(location.search)
const sessionId = query.get("session")
const player = query.get("player") || savedName()
// Someone who opens an invite link before choosing a name picks one first; the invite is kept.
if (!sessionId) location.replace("/")
else if (!player) location.replace(`/?${new URLSearchParams({ invite: sessionId })}`)
else start(sessionId, player)

async function start(id: string, me: string): Promise<void> {
  byId("who").textContent = `playing as ${me}`
  let session: Salvo
  try {
    session = await join<typeof salvo>({ session: id, player: me })
  } catch (e) {
    message.replaceChildren(el("span", "fatal", `Cannot join: ${e instanceof Error ? e.message : e}`))
    return
  }
  showConnection(byId("conn"), session)
  byId("share").textContent = `Invite someone: ${location.origin}/salvo?session=${id}`

  const size = session.state.size
  const enemyCells = grid(theirsBox, size, (cell) =>
    session.act("fire", { cell }).catch((e) => toast(e instanceof ActionError ? e.message : String(e), "error")),
  )
  const ownCells = grid(mineBox, size)

  const render = (s: SalvoView) => {
    const myTurn = s.phase === "playing" && s.turn === s.you
    s.theirs.forEach((c, i) => {
      const b = enemyCells[i] as HTMLButtonElement
      b.dataset.cell = c
      b.disabled = !myTurn || c !== "unknown"
    })
    s.mine.forEach((c, i) => {
      ;(ownCells[i] as HTMLButtonElement).dataset.cell = c
    })
    byId("theirs-left").textContent = `(${s.afloat.theirs} afloat)`
    byId("mine-left").textContent = `(${s.afloat.mine} afloat)`
    renderMessage(s)
  }

  const say = (text: string) => {
    log.prepend(el("li", "", text))
    while (log.childElementCount > 40) log.lastElementChild?.remove()
  }
  const who = (p: string) => (p === me ? "you" : p)
  session.on("joined", (d) => say(`${who((d as { player: string }).player)} sat down`))
  session.on("start", () => say("the battle begins"))
  session.on("shot", (d) => {
    const { by, cell, result } = d as { by: string; cell: number; result: string }
    say(`${who(by)} fired at ${String.fromCharCode(65 + (cell % size))}${Math.floor(cell / size) + 1}: ${result}`)
    if (by !== me && result === "sunk") toast("They sank one of your ships", "error")
  })
  session.on("timeout", (d) => say(`${who((d as { player: string }).player)} ran out of time`))

  render(session.state)
  session.subscribe((s) => render(s))
  setInterval(() => renderMessage(session.state), 250)
}

/** A size × size grid of buttons; `onFire` makes them clickable. */
function grid(box: HTMLElement, size: number, onFire?: (cell: number) => void): HTMLButtonElement[] {
  box.style.gridTemplateColumns = `repeat(${size}, 1fr)`
  const cells: HTMLButtonElement[] = []
  for (let i = 0; i < size * size; i++) {
    const b = el("button", "cell")
    b.setAttribute("aria-label", `cell ${i}`)
    if (onFire) b.addEventListener("click", () => onFire(i))
    else b.disabled = true
    cells.push(b)
  }
  box.replaceChildren(...cells)
  return cells
}

function renderMessage(s: SalvoView): void {
  let text: string
  let timer = ""
  if (s.phase === "waiting") text = "Waiting for an opponent…"
  else if (s.phase === "ended") text = s.winner === s.you ? "You win: their fleet is at the bottom of the sea!" : `${s.winner ?? "Nobody"} wins`
  else {
    text = s.turn === s.you ? "Your turn: fire at their waters" : `${s.turn} is aiming…`
    const left = secondsLeft(s.turnEndsAt)
    if (left !== null) timer = `${left}s`
  }
  message.replaceChildren(text)
  if (timer) message.append(el("span", "timer", timer))
}
