/** The lobby: pick a name, create a session, or join one of the open sessions. */
import { ActionError, createSession, listSessions, type SessionInfo } from "baton/client"
import { byId, el, saveName, savedName, toast } from "./common.ts"

interface GameInfo {
  name: string
  version: number
  players: { min: number; max: number }
  realtime: boolean
}

/** Games that have a page here; others are listed without a play link. */
const PAGES = new Set(["memory", "orbs", "counter"])
const BLURBS: Record<string, string> = {
  memory: "Turn-based concentration: find the pairs, the faces stay hidden.",
  orbs: "Real-time: steer your dot, collect orbs, 90 seconds.",
  counter: "Press a button, watch a number grow.",
}

const nameInput = byId<HTMLInputElement>("name")
const gamesBox = byId("games")
const sessionsBox = byId("sessions")

nameInput.value = savedName()
nameInput.addEventListener("input", () => saveName(nameInput.value.trim()))

function playerName(): string | null {
  const name = nameInput.value.trim()
  if (name) return name
  toast("Type your name first", "error")
  nameInput.focus()
  return null
}

function playUrl(game: string, session: string, player: string): string {
  return `/${game}?${new URLSearchParams({ session, player })}`
}

async function loadGames(): Promise<void> {
  // The SDK has no listGames yet: GET /games is the node's HTTP API.
  const res = await fetch("/games")
  if (!res.ok) throw new Error(`GET /games: HTTP ${res.status}`)
  const { games } = (await res.json()) as { games: GameInfo[] }
  gamesBox.replaceChildren(
    ...games.map((g) => {
      const card = el("div", "game-card")
      card.append(el("h3", "", g.name))
      const who = g.players.min === g.players.max ? `${g.players.min}` : `${g.players.min}–${g.players.max}`
      card.append(el("p", "muted", `${BLURBS[g.name] ?? ""} ${who} players${g.realtime ? " · real-time" : ""}`))
      const create = el("button", "", "Create & join")
      create.disabled = !PAGES.has(g.name)
      create.addEventListener("click", async () => {
        const player = playerName()
        if (!player) return
        try {
          const s = await createSession({ game: g.name })
          location.href = playUrl(g.name, s.id, player)
        } catch (e) {
          toast(e instanceof ActionError ? e.message : String(e), "error")
        }
      })
      card.append(create)
      return card
    }),
  )
}

function sessionRow(s: SessionInfo): HTMLTableRowElement {
  const tr = el("tr")
  const id = el("td")
  id.append(el("code", "", s.id))
  const players = el("td")
  if (s.players.length === 0) players.append(el("span", "muted", "nobody yet"))
  s.players.forEach((p, i) => {
    if (i) players.append(", ")
    players.append(el("span", p.connected ? "dot on" : "dot"), p.player)
  })
  const seats = el("td", "muted", `${s.players.length}/${s.maxPlayers}`)
  const status = el("td", "", s.status === "ended" ? "ended" : "open")
  const action = el("td")
  if (PAGES.has(s.game)) {
    const me = nameInput.value.trim()
    const seated = s.players.some((p) => p.player === me)
    const full = s.players.length >= s.maxPlayers
    if (s.status === "open" && (seated || !full)) {
      const join = el("a", seated ? "button secondary" : "button", seated ? "Rejoin" : "Join")
      join.href = "#"
      join.addEventListener("click", (ev) => {
        ev.preventDefault()
        const player = playerName()
        if (player) location.href = playUrl(s.game, s.id, player)
      })
      action.append(join)
    } else action.append(el("span", "muted", s.status === "ended" ? outcome(s.result) : "full"))
  }
  tr.append(el("td", "", s.game), id, players, seats, status, action)
  return tr
}

/** "won by ada", from the `{ winners }` result the games here end with. */
function outcome(result: unknown): string {
  const winners = (result as { winners?: string[] } | null)?.winners
  return winners?.length ? `won by ${winners.join(" & ")}` : "over"
}

async function loadSessions(): Promise<void> {
  let sessions: SessionInfo[]
  try {
    sessions = await listSessions()
  } catch (e) {
    sessionsBox.replaceChildren(el("p", "fatal", `Cannot reach the node: ${e instanceof Error ? e.message : e}`))
    return
  }
  if (sessions.length === 0) {
    sessionsBox.replaceChildren(el("p", "muted", "No sessions yet: create one above."))
    return
  }
  sessions.sort((a, b) => Number(a.status === "ended") - Number(b.status === "ended") || a.game.localeCompare(b.game))
  const table = el("table", "sessions")
  const head = el("tr")
  for (const h of ["Game", "Session", "Players", "Seats", "Status", ""]) head.append(el("th", "", h))
  table.append(head, ...sessions.map(sessionRow))
  sessionsBox.replaceChildren(table)
}

/** The node may still be starting (or restarting): keep trying. */
function loadGamesUntilDone(): void {
  loadGames().catch((e) => {
    gamesBox.replaceChildren(el("p", "fatal", `Cannot load the games (${e instanceof Error ? e.message : e}); retrying…`))
    setTimeout(loadGamesUntilDone, 2000)
  })
}

loadGamesUntilDone()
loadSessions()
setInterval(loadSessions, 2000)
