/** The lobby: pick a name, create a session, or join one of the open sessions. */
import { ActionError, createSession, listSessions, type OpenSession } from "batonjs/client"
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
/** The games the node serves (from GET /games): the listing is asked per game. */
let gameNames: string[] = []

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
  gameNames = games.map((g) => g.name)
  void loadSessions()
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

/** One open session with a seat free (the public listing shows seats, not who sits in them). */
function sessionRow(s: OpenSession): HTMLTableRowElement {
  const tr = el("tr")
  const id = el("td")
  id.append(el("code", "", s.id))
  const seats = el("td", "muted", s.seated === 0 ? "nobody yet" : `${s.seated}/${s.maxPlayers}`)
  const action = el("td")
  if (PAGES.has(s.game)) {
    const join = el("a", "button", "Join")
    join.href = "#"
    join.addEventListener("click", (ev) => {
      ev.preventDefault()
      const player = playerName()
      if (player) location.href = playUrl(s.game, s.id, player)
    })
    action.append(join)
  }
  tr.append(el("td", "", s.game), id, seats, action)
  return tr
}

async function loadSessions(): Promise<void> {
  let sessions: OpenSession[]
  try {
    sessions = (await Promise.all(gameNames.map((game) => listSessions({ game })))).flat()
  } catch (e) {
    sessionsBox.replaceChildren(el("p", "fatal", `Cannot reach the node: ${e instanceof Error ? e.message : e}`))
    return
  }
  if (sessions.length === 0) {
    sessionsBox.replaceChildren(el("p", "muted", "No open sessions: create one above."))
    return
  }
  const table = el("table", "sessions")
  const head = el("tr")
  for (const h of ["Game", "Session", "Seated", ""]) head.append(el("th", "", h))
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
setInterval(loadSessions, 2000)
