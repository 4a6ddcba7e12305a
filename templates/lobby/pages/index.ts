/**
 * One page for both games: it sits in the lobby session and asks for a
 * match; when the lobby's view names a match, it joins that duel session
 * (the lobby spawned it) and plays it; "Play again" queues in the lobby again.
 */
import { ActionError, createSession, type GameSession, join, listSessions } from "batonjs/client"
import type duel from "../games/duel.ts"
import type { DuelView, Hand } from "../games/duel.ts"
import type lobby from "../games/lobby.ts"
import type { LobbyView } from "../games/lobby.ts"
import { byId, el, saveName, savedName, secondsLeft, showConnection, toast } from "./common.ts"
import { HAND_SVG } from "./icons.ts"

type Lobby = GameSession<typeof lobby>
type Duel = GameSession<typeof duel>

// Pictures drawn in SVG, not emoji: a machine without an emoji font showed empty boxes.
for (const b of document.querySelectorAll<HTMLButtonElement>("#hands button")) b.insertAdjacentHTML("afterbegin", HAND_SVG[b.dataset.hand as Hand])
const fail = (e: unknown) => toast(e instanceof ActionError ? e.message : String(e), "error")

const nameInput = byId<HTMLInputElement>("name")
nameInput.value = savedName()
byId("enter-form").addEventListener("submit", (e) => {
  e.preventDefault()
  const name = nameInput.value.trim()
  if (!name) return
  saveName(name)
  enter(name).catch((error) => {
    byId("enter").hidden = false
    fail(error)
  })
})
if (savedName()) enter(savedName()).catch(fail)

/** The lobby everyone shares: the oldest open one, created by the first visitor. */
async function findLobby(): Promise<string> {
  const open = async () => (await listSessions({ game: "lobby" })).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id))
  let lobbies = await open()
  if (lobbies.length === 0) {
    await createSession({ game: "lobby" })
    lobbies = await open() // two visitors may have created one each: everyone picks the oldest
  }
  const first = lobbies[0]
  if (!first) throw new Error("no lobby could be created")
  return first.id
}

async function enter(me: string): Promise<void> {
  byId("enter").hidden = true
  byId("who").textContent = `playing as ${me}`
  const room: Lobby = await join<typeof lobby>({ session: await findLobby(), player: me })
  showConnection(byId("conn"), room)
  byId("lobby").hidden = false

  let current: { id: string; session: Duel } | null = null
  let joining: string | null = null
  const queueBtn = byId<HTMLButtonElement>("queue")
  const cancelBtn = byId<HTMLButtonElement>("cancel")
  queueBtn.addEventListener("click", () => room.act("queue").catch(fail))
  cancelBtn.addEventListener("click", () => room.act("cancel").catch(fail))
  byId("again").addEventListener("click", () => room.act("queue").catch(fail))

  const render = (v: LobbyView) => {
    const status = byId("lobby-status")
    if (v.queued) status.textContent = `Looking for an opponent… (${v.waiting} waiting, you are number ${v.position})`
    else if (v.match) status.textContent = `Matched with ${v.match.opponents.join(", ")}`
    else status.textContent = "Ask for a match when you are ready."
    // No new match while a duel is on (the duel's "Play again" asks for the next one).
    queueBtn.hidden = v.queued || (current !== null && current.session.state.phase !== "ended")
    cancelBtn.hidden = !v.queued
    byId("lobby-stats").textContent = `${v.online} in the lobby · ${v.made} matches made`
    byId("recent").replaceChildren(...v.recent.map((m) => el("li", "", `${m.players.join(" vs ")} · ${new Date(m.at).toLocaleTimeString()}`)))
    // The lobby named a match: join that session (once).
    if (v.match && v.match.session !== current?.id && v.match.session !== joining) {
      const id = v.match.session
      joining = id
      current?.session.close()
      current = null
      join<typeof duel>({ session: id, player: me }).then(
        (session) => {
          if (joining !== id) return session.close() // a newer match came meanwhile
          joining = null
          current = { id, session }
          play(session, () => render(room.state))
        },
        (e) => {
          // `joining` keeps the id: no retry until the lobby names another match.
          toast(`That match is over (${e instanceof Error ? e.message : e}): ask for a new one`, "error")
        },
      )
    }
    if (!v.match) joining = null
    if (!v.match && current) {
      current.session.close()
      current = null
      byId("duel").hidden = true
    }
  }
  render(room.state)
  room.subscribe(render)
}

/** Shows and plays one duel; `changed` lets the lobby panel follow its phase. */
function play(session: Duel, changed: () => void): void {
  byId("duel").hidden = false
  const buttons = [...byId("hands").querySelectorAll<HTMLButtonElement>("button[data-hand]")]
  // A hand is sent once per round: the buttons stay off from the click until the node has answered.
  let sending = false
  for (const b of buttons)
    b.onclick = () => {
      sending = true
      for (const other of buttons) other.disabled = true
      session
        .act("choose", { hand: b.dataset.hand as Hand })
        .catch(fail)
        .finally(() => {
          sending = false
          render(session.state)
        })
    }
  const render = (v: DuelView) => {
    byId("duel-title").textContent = `${v.you} ${v.scores[v.you] ?? 0} – ${v.scores[v.opponent] ?? 0} ${v.opponent}`
    for (const b of buttons) {
      b.disabled = sending || v.phase !== "choosing" || v.hand !== null
      b.classList.toggle("picked", b.dataset.hand === v.hand)
    }
    byId("rounds").replaceChildren(
      ...v.history.map((r, i) => {
        const mine = r.hands[v.you] as Hand
        const theirs = r.hands[v.opponent] as Hand
        const outcome = r.winner === null ? "draw" : r.winner === v.you ? "you win the round" : `${r.winner} wins the round`
        return el("li", "", `Round ${i + 1}: your ${mine} vs ${theirs}, ${outcome}`)
      }),
    )
    byId("again").hidden = v.phase !== "ended"
    status(v)
  }
  const status = (v: DuelView) => {
    const box = byId("duel-status")
    const left = secondsLeft(v.deadline)
    if (v.phase === "waiting") box.textContent = `Waiting for ${v.opponent} to arrive… ${left ?? ""}s`
    else if (v.phase === "ended") box.textContent = v.winner === v.you ? "You win the duel!" : v.winner ? `${v.winner} wins the duel` : "Nobody wins: the duel was abandoned"
    else if (v.hand) box.textContent = v.opponentChose ? "Revealing…" : `You chose ${v.hand}: waiting for ${v.opponent}… ${left}s`
    else box.textContent = `Round ${v.round}: choose! ${left}s${v.opponentChose ? ` (${v.opponent} has chosen)` : ""}`
  }
  render(session.state)
  changed()
  session.subscribe((v, prev) => {
    render(v)
    if (v.phase !== prev?.phase) changed()
  })
  const clock = setInterval(() => (session.status === "closed" ? clearInterval(clock) : status(session.state)), 250)
}
