// The playground: every game of the app, playable from here as any number of players, page or no page.
import type { GameDescription } from "../playground-api.ts"
import { el } from "./dom.ts"
import { type Field, formFor } from "./forms.ts"
import type { JsonSchema } from "./json-schema.ts"
import { Seat } from "./seat.ts"

interface Description {
  games: GameDescription[]
  players: { authenticated: boolean }
  playersUrl?: string
}

const $ = <T extends HTMLElement>(sel: string) => document.querySelector(sel) as T
// On the players' port the endpoints take the admin token: open /playground#token=<BATON_ADMIN_TOKEN>
// (a fragment never reaches a server or its logs). The admin port needs none.
const token = new URLSearchParams(location.hash.slice(1)).get("token")
const headers: Record<string, string> = { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }
if (token) $<HTMLAnchorElement>("header a").href = `/dashboard#token=${encodeURIComponent(token)}`

async function api<T>(path: string, body?: unknown): Promise<T> {
  const res = await fetch(`/playground${path}`, body === undefined ? { headers, cache: "no-store" } : { method: "POST", headers, body: JSON.stringify(body) })
  const answer = (await res.json().catch(() => ({}))) as T & { error?: { code: string; message: string } }
  if (res.status === 401) throw new Error("the playground is for operators: use the admin port, or open /playground#token=<BATON_ADMIN_TOKEN>")
  if (!res.ok) throw new Error(answer.error ? `${answer.error.code}: ${answer.error.message}` : `HTTP ${res.status}`)
  return answer
}

let description: Description
let current: { game: GameDescription; session?: string; seats: Seat[] } | undefined

async function main(): Promise<void> {
  try {
    description = await api<Description>("/games")
  } catch (error) {
    $("#summary").textContent = (error as Error).message
    return
  }
  const n = description.games.length
  $("#summary").textContent = `${n} game${n === 1 ? "" : "s"} · players ${description.players.authenticated ? "get playground credentials" : "are self-declared"}`
  const list = $("#games")
  for (const game of description.games) {
    const b = el("button", "game")
    b.dataset.game = game.name
    b.append(el("strong", "", game.name), el("small", "", `${seats(game)} · ${game.actions.length} action${game.actions.length === 1 ? "" : "s"}${game.realtime ? " · realtime" : ""}`))
    b.onclick = () => choose(game)
    list.append(b)
  }
  const wanted = new URLSearchParams(location.search).get("game")
  const first = description.games.find((g) => g.name === wanted) ?? description.games[0]
  if (first) choose(first)
}

const seats = (g: GameDescription) => (g.players.min === g.players.max ? `${g.players.min} player${g.players.min === 1 ? "" : "s"}` : `${g.players.min}–${g.players.max} players`)

/** Shows a game: its setup form; seats of an earlier session are closed (their seats stay taken). */
function choose(game: GameDescription): void {
  for (const s of current?.seats ?? []) s.remove()
  current = { game, seats: [] }
  for (const b of document.querySelectorAll<HTMLElement>("#games .game")) b.classList.toggle("chosen", b.dataset.game === game.name)
  $("#title").textContent = game.name
  $("#about").textContent = `version ${game.version} · ${seats(game)} · actions: ${game.actions.map((a) => a.name).join(", ") || "none"}`
  $("#session").hidden = true
  $("#seats").replaceChildren()

  const options: Field | undefined = game.options ? formFor(game.options.schema as JsonSchema) : undefined
  const box = $("#options")
  box.replaceChildren(...(options ? [options.el] : [el("span", "empty", "this game takes no options")]))
  $<HTMLFormElement>("#create").onsubmit = async (e) => {
    e.preventDefault()
    const read = options?.read() ?? { ok: true as const, value: undefined }
    if (!read.ok) return say(read.error, "error")
    const seed = $<HTMLInputElement>("#seed").value.trim()
    try {
      const created = await api<{ id: string }>("/sessions", { game: game.name, options: read.value, ...(seed ? { seed } : {}) })
      open(created.id)
    } catch (error) {
      say((error as Error).message, "error")
    }
  }
  $<HTMLFormElement>("#open").onsubmit = (e) => {
    e.preventDefault()
    const id = $<HTMLInputElement>("#open-id").value.trim()
    if (id) open(id)
  }
  say("")
}

/** Shows a session, ready to seat players in it. */
function open(id: string): void {
  if (!current) return
  for (const s of current.seats) s.remove()
  current.session = id
  $("#session").hidden = false
  $("#session-id").textContent = id
  $("#seats").replaceChildren()
  say(`session ${id} of ${current.game.name}: seat players to play it`, "info")
  const name = $<HTMLInputElement>("#player-name")
  name.value = suggestName()
  name.focus()
}

const NAMES = ["ada", "bob", "cy", "dee", "eve", "fay", "gus", "hal"]
function suggestName(): string {
  const taken = new Set(current?.seats.map((s) => s.el.dataset.name))
  return NAMES.find((n) => !taken.has(n)) ?? `player${(current?.seats.length ?? 0) + 1}`
}

$<HTMLFormElement>("#seat").onsubmit = async (e) => {
  e.preventDefault()
  const here = current
  const session = here?.session
  const input = $<HTMLInputElement>("#player-name")
  const name = input.value.trim()
  if (!here || !session || !name) return
  try {
    const issued = await api<{ player: string; token?: string }>("/players", { name })
    const fresh = issued.token ? async () => (await api<{ token: string }>("/players", { name })).token : undefined
    const seat = new Seat({
      game: here.game,
      session,
      name,
      player: issued.player,
      url: description.playersUrl ?? location.origin,
      token: fresh,
      onRemove: () => here.seats.splice(here.seats.indexOf(seat), 1),
    })
    here.seats.push(seat)
    $("#seats").append(seat.el)
    // The next name is suggested only if nobody typed one meanwhile (typing went on while this seat's request was out).
    if (input.value.trim() === name) input.value = suggestName()
    await seat.start()
  } catch (error) {
    say((error as Error).message, "error")
  }
}

function say(text: string, kind: "info" | "error" = "info"): void {
  const box = $("#message")
  box.textContent = text
  box.dataset.kind = kind
}

void main()
