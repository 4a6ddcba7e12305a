/** What both pages share: the player's name, the connection pill, a toast. */
import type { ConnectionStatus } from "batonjs/client"
import { useCallback, useEffect, useState } from "react"

const NAME_KEY = "baton.player"

/** The name this browser plays under (kept in localStorage: the same name gets the same seat back). */
export function savedName(): string {
  return localStorage.getItem(NAME_KEY) ?? ""
}

export function saveName(name: string): void {
  localStorage.setItem(NAME_KEY, name)
}

const STATUS: Record<ConnectionStatus, string> = {
  connecting: "connecting…",
  open: "connected",
  reconnecting: "reconnecting…",
  closed: "disconnected",
}

/** The connection as a pill (the SDK reconnects by itself, also when a node is replaced). */
export function ConnectionPill({ status }: { status: ConnectionStatus }) {
  return (
    <span id="conn" className="pill" data-status={status}>
      {STATUS[status]}
    </span>
  )
}

export interface Toast {
  text: string
  kind: "info" | "error"
}

/** A message that shows for a moment: `[toast, show]`; render `<ToastBox toast={toast} />`. */
export function useToast(): [Toast | null, (text: string, kind?: Toast["kind"]) => void] {
  const [toast, setToast] = useState<Toast | null>(null)
  useEffect(() => {
    if (!toast) return
    const timer = setTimeout(() => setToast(null), 2500)
    return () => clearTimeout(timer)
  }, [toast])
  const show = useCallback((text: string, kind: Toast["kind"] = "info") => setToast({ text, kind }), [])
  return [toast, show]
}

export function ToastBox({ toast }: { toast: Toast | null }) {
  return (
    <div id="toast" className={`toast${toast ? " visible" : ""}`} data-kind={toast?.kind}>
      {toast?.text}
    </div>
  )
}

/** Errors as people read them (an ActionError's message is written for them). */
export const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e))
