/** Small helpers shared by the pages: the player's name, URL parameters, status and messages. */
import type { ConnectionStatus, GameSession } from "batonjs/client"

const NAME_KEY = "baton.player"

export function savedName(): string {
  return localStorage.getItem(NAME_KEY) ?? ""
}

export function saveName(name: string): void {
  localStorage.setItem(NAME_KEY, name)
}

/** `?session=ID&player=NAME`; the name falls back to the one saved on the index page. */
export function seatFromUrl(): { session: string; player: string } | null {
  const q = new URLSearchParams(location.search)
  const session = q.get("session")
  const player = q.get("player") || savedName()
  return session && player ? { session, player } : null
}

/** The element with this id; throws early when the page and the script disagree. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id)
  if (!el) throw new Error(`#${id} is missing from the page`)
  return el as T
}

/** Creates an element with a class and text. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = "", text = ""): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag)
  if (className) e.className = className
  if (text) e.textContent = text
  return e
}

const STATUS_TEXT: Record<ConnectionStatus, string> = {
  connecting: "connecting…",
  open: "connected",
  reconnecting: "reconnecting…",
  closed: "disconnected",
}

/** Keeps a status pill in step with the connection. */
export function showConnection(pill: HTMLElement, session: GameSession): void {
  const paint = (status: ConnectionStatus) => {
    pill.textContent = STATUS_TEXT[status]
    pill.dataset.status = status
  }
  paint(session.status)
  session.onStatus(paint)
}

let toastTimer: ReturnType<typeof setTimeout> | undefined
/** A short message at the bottom of the page. */
export function toast(text: string, kind: "info" | "error" = "info"): void {
  let box = document.getElementById("toast")
  if (!box) {
    box = el("div", "toast")
    box.id = "toast"
    document.body.append(box)
  }
  box.textContent = text
  box.dataset.kind = kind
  box.classList.add("visible")
  clearTimeout(toastTimer)
  toastTimer = setTimeout(() => box.classList.remove("visible"), 2500)
}

/** Replaces the page's main area with an error and a way back. */
export function fatal(main: HTMLElement, text: string): void {
  const pill = document.getElementById("conn")
  if (pill) {
    pill.textContent = "not joined"
    pill.dataset.status = "closed"
  }
  main.className = ""
  main.replaceChildren(el("p", "fatal", text))
  const back = el("a", "button", "Back to the games")
  back.href = "/"
  main.append(back)
}

/** Seconds left until `at` (ms since the epoch), never negative. */
export function secondsLeft(at: number | null): number | null {
  return at === null ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000))
}
