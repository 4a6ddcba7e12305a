/** Small helpers for the pages: the player's name, elements, the connection pill, messages. */
import type { ConnectionStatus, GameSession } from "batonjs/client"

const NAME_KEY = "baton.player"

/** The name this browser plays under (kept in localStorage: the same name gets the same seat back). */
export function savedName(): string {
  return localStorage.getItem(NAME_KEY) ?? ""
}

export function saveName(name: string): void {
  localStorage.setItem(NAME_KEY, name)
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id)
  if (!found) throw new Error(`#${id} is missing from the page`)
  return found as T
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = "", text = ""): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag)
  if (className) e.className = className
  if (text) e.textContent = text
  return e
}

const STATUS: Record<ConnectionStatus, string> = {
  connecting: "connecting…",
  open: "connected",
  reconnecting: "reconnecting…",
  closed: "disconnected",
}

/** Keeps a pill in step with the connection (the SDK reconnects by itself, also when a node is replaced). */
export function showConnection(pill: HTMLElement, session: GameSession): void {
  const paint = (status: ConnectionStatus) => {
    pill.textContent = STATUS[status]
    pill.dataset.status = status
  }
  paint(session.status)
  session.onStatus(paint)
}

let toastTimer: ReturnType<typeof setTimeout> | undefined
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

/** Seconds left until `at` (ms since the epoch), never negative. */
export function secondsLeft(at: number | null): number | null {
  return at === null ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000))
}
