/** The memory table: renders the player's view (face-down faces are null) and flips on click. */
import { ActionError, type GameSession, join } from "batonjs/client"
import type memory from "../games/memory.ts"
import type { MemoryView } from "../games/memory.ts"
import { byId, el, fatal, seatFromUrl, secondsLeft, showConnection, toast } from "./common.ts"

/** One picture per pair: glyphs every system font has, told apart by colour too. */
const FACES = ["★", "♥", "♦", "♣", "♠", "●", "▲", "■", "◆", "☀", "☂", "☃", "♪", "✿", "☾", "⚑", "✚", "❖"]
const COLORS = ["#e8590c", "#c2255c", "#1971c2", "#2b8a3e", "#5f3dc4", "#0c8599", "#e67700", "#495057", "#d6336c"]

const main = byId("main")
const scoresBox = byId("scores")
const message = byId("message")
const controls = byId("controls")
const board = byId("board")
const log = byId("log")

const seat = seatFromUrl()
if (!seat) location.replace("/")
else start(seat.session, seat.player)

async function start(sessionId: string, player: string): Promise<void> {
  byId("who").textContent = `playing as ${player}`
  let session: GameSession<typeof memory>
  try {
    session = await join<typeof memory>({ session: sessionId, player })
  } catch (e) {
    fatal(main, `Cannot join session ${sessionId}: ${e instanceof Error ? e.message : e}`)
    return
  }
  showConnection(byId("conn"), session)

  const buttons: HTMLButtonElement[] = []
  const flip = (index: number) =>
    session.act("flip", { index }).catch((e) => toast(e instanceof ActionError ? e.message : String(e), "error"))

  const render = (s: MemoryView) => {
    renderScores(s)
    renderMessage(s, session)
    renderControls(s, session)
    // The deck's size never changes: build the buttons once, then only update them.
    if (buttons.length !== s.cards.length) {
      buttons.length = 0
      board.style.gridTemplateColumns = `repeat(${Math.ceil(Math.sqrt(s.cards.length))}, 1fr)`
      board.replaceChildren(
        ...s.cards.map((_, i) => {
          const b = el("button", "card")
          b.setAttribute("aria-label", `card ${i + 1}`)
          b.addEventListener("click", () => flip(i))
          buttons.push(b)
          return b
        }),
      )
    }
    const myTurn = s.phase === "playing" && s.turn === s.you && !s.showing
    s.cards.forEach((c, i) => {
      const b = buttons[i] as HTMLButtonElement
      const face = c.face === null ? "" : (FACES[c.face % FACES.length] ?? "?")
      if (b.dataset.face !== face || b.dataset.by !== (c.matchedBy ?? "")) {
        b.dataset.face = face
        b.dataset.by = c.matchedBy ?? ""
        b.replaceChildren(face)
        if (c.matchedBy) b.append(el("span", "by", c.matchedBy === s.you ? "you" : c.matchedBy))
      }
      b.style.color = c.face === null ? "" : (COLORS[c.face % COLORS.length] ?? "")
      b.classList.toggle("up", c.up)
      b.classList.toggle("matched", c.matchedBy !== null)
      b.classList.toggle("mine", c.matchedBy === s.you)
      b.title = c.matchedBy ? `found by ${c.matchedBy}` : ""
      b.disabled = !myTurn || c.up
    })
  }

  const say = (text: string) => {
    log.prepend(el("li", "", text))
    while (log.childElementCount > 50) log.lastElementChild?.remove()
  }
  session.on("joined", (d) => say(`${(d as { player: string }).player} sat down`))
  session.on("start", () => say("the game started"))
  session.on("match", (d) => {
    const { player } = d as { player: string }
    say(`${player} found a pair`)
    if (player !== session.player) toast(`${player} found a pair`)
  })
  session.on("miss", (d) => say(`${(d as { player: string }).player} missed`))
  session.on("timeout", (d) => say(`${(d as { player: string }).player} ran out of time`))

  render(session.state)
  session.subscribe((s, prev) => {
    render(s)
    // Events of the same update are delivered after the state: log the end after them.
    if (s.phase === "ended" && prev?.phase !== "ended") queueMicrotask(() => say(message.firstChild?.textContent ?? "Game over"))
  })
  // The turn countdown moves without any new state.
  setInterval(() => renderMessage(session.state, session), 250)
}

function renderScores(s: MemoryView): void {
  const names = [...s.order, ...Object.keys(s.scores).filter((p) => !s.order.includes(p))]
  scoresBox.replaceChildren(
    ...names.map((p) => {
      const li = el("li", p === s.turn ? "turn" : "")
      li.append(el("span", "", p === s.you ? `${p} (you)` : p), el("span", "score", String(s.scores[p] ?? 0)))
      if (!s.order.includes(p)) li.append(el("span", "muted", "left"))
      return li
    }),
  )
}

function renderMessage(s: MemoryView, session: GameSession<typeof memory>): void {
  let text: string
  let timer = ""
  if (s.phase === "waiting") text = `Waiting for players (${s.order.length} seated, 2–4)…`
  else if (s.phase === "ended") {
    const why = (session.result as { reason?: string } | undefined)?.reason
    const winners = s.winners
    text = winners.length === 0 ? "Game over" : winners.length > 1 ? `Game over: a tie between ${winners.join(" and ")}` : winners[0] === s.you ? "Game over: you win!" : `Game over: ${winners[0]} wins`
    if (why === "opponents_left") text += " (the others left)"
  } else if (s.showing) {
    const next = s.order[(s.order.indexOf(s.turn ?? "") + 1) % s.order.length]
    text = `${s.turn === s.you ? "No match" : `${s.turn} missed`}: ${next === s.you ? "your" : `${next}'s`} turn next`
  }
  else {
    text = s.turn === s.you ? (s.flipped.length === 0 ? "Your turn: flip a card" : "Flip a second card") : `${s.turn}'s turn`
    const left = secondsLeft(s.turnEndsAt)
    if (left !== null) timer = `${left}s`
  }
  message.replaceChildren(text)
  message.classList.toggle("result", s.phase === "ended")
  if (timer) message.append(el("span", "timer", timer))
}

function renderControls(s: MemoryView, session: GameSession<typeof memory>): void {
  if (s.phase !== "waiting") {
    controls.replaceChildren()
    return
  }
  const startBtn = el("button", "", "Start the game")
  startBtn.disabled = s.order.length < 2
  startBtn.title = s.order.length < 2 ? "needs at least 2 players" : ""
  startBtn.addEventListener("click", () =>
    session.act("start").catch((e) => toast(e instanceof ActionError ? e.message : String(e), "error")),
  )
  const hint = el("span", "muted", "Others join from the games page; a full table (4) starts by itself.")
  controls.replaceChildren(startBtn, hint)
}
