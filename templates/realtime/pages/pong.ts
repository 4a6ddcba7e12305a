/** The court: draws the shared state on a canvas and sends `move` when the direction changes. */
import { ActionError, type GameSession, join } from "batonjs/client"
import type pong from "../games/pong.ts"
import type { PongState } from "../games/pong.ts"
import { byId, el, savedName, secondsLeft, showConnection, toast } from "./common.ts"

type Pong = GameSession<typeof pong>

// The court's geometry, as in games/pong.ts (the page imports the module as a type only).
const COURT = { w: 800, h: 500 }
const PADDLE = { h: 90, w: 12, inset: 24 }
const BALL_R = 8

const canvas = byId<HTMLCanvasElement>("court")
const message = byId("message")

const query = new URLSearchParams(location.search)
const sessionId = query.get("session")
const player = query.get("player") || savedName()
// Someone who opens an invite link before choosing a name picks one first; the invite is kept.
if (!sessionId) location.replace("/")
else if (!player) location.replace(`/?${new URLSearchParams({ invite: sessionId })}`)
else start(sessionId, player)

async function start(id: string, me: string): Promise<void> {
  byId("who").textContent = `playing as ${me}`
  let session: Pong
  try {
    session = await join<typeof pong>({ session: id, player: me })
  } catch (e) {
    message.replaceChildren(el("span", "fatal", `Cannot join: ${e instanceof Error ? e.message : e}`))
    return
  }
  showConnection(byId("conn"), session)
  byId("share").textContent = `Invite someone: ${location.origin}/pong?session=${id}`
  session.on("point", (d) => {
    const { player: scorer } = d as { player: string }
    toast(scorer === me ? "Your point" : `${scorer} scores`, scorer === me ? "info" : "error")
  })

  // Send a move only when the direction changes: keys, or a pointer held above/below the paddle.
  let sent = 0
  const send = (dir: -1 | 0 | 1) => {
    if (dir === sent || session.state.phase === "ended") return
    sent = dir
    session.act("move", { dir }).catch((e) => toast(e instanceof ActionError ? e.message : String(e), "error"))
  }
  const keys = new Set<string>()
  const fromKeys = (): -1 | 0 | 1 => {
    const up = keys.has("ArrowUp") || keys.has("w")
    const down = keys.has("ArrowDown") || keys.has("s")
    return up === down ? 0 : up ? -1 : 1
  }
  document.addEventListener("keydown", (e) => {
    if (!["ArrowUp", "ArrowDown", "w", "s"].includes(e.key)) return
    e.preventDefault()
    keys.add(e.key)
    send(fromKeys())
  })
  document.addEventListener("keyup", (e) => {
    keys.delete(e.key)
    send(fromKeys())
  })
  let pointerY: number | null = null
  canvas.addEventListener("pointerdown", (e) => {
    canvas.setPointerCapture(e.pointerId)
    pointerY = courtY(e)
  })
  canvas.addEventListener("pointermove", (e) => {
    if (pointerY !== null) pointerY = courtY(e)
  })
  const release = () => {
    pointerY = null
    send(fromKeys())
  }
  canvas.addEventListener("pointerup", release)
  canvas.addEventListener("pointercancel", release)

  // The ball between two updates: carried on by its velocity since the last one arrived.
  let updatedAt = performance.now()
  session.subscribe(() => {
    updatedAt = performance.now()
  })
  const frame = (t: number) => {
    const s = session.state
    const mine = s.left?.player === me ? s.left : s.right?.player === me ? s.right : null
    if (pointerY !== null && mine) send(Math.abs(pointerY - mine.y) < 12 ? 0 : pointerY < mine.y ? -1 : 1)
    const ahead = Math.min(0.05, (t - updatedAt) / 1000)
    draw(s, me, s.phase === "playing" ? ahead : 0)
    renderMessage(s, me)
    requestAnimationFrame(frame)
  }
  requestAnimationFrame(frame)
}

function courtY(e: PointerEvent): number {
  const box = canvas.getBoundingClientRect()
  return ((e.clientY - box.top) / box.height) * COURT.h
}

function draw(s: PongState, me: string, ahead: number): void {
  const dpr = window.devicePixelRatio || 1
  if (canvas.width !== COURT.w * dpr) {
    canvas.width = COURT.w * dpr
    canvas.height = COURT.h * dpr
  }
  const g = canvas.getContext("2d")
  if (!g) return
  g.setTransform(dpr, 0, 0, dpr, 0, 0)
  g.fillStyle = "#0b1020"
  g.fillRect(0, 0, COURT.w, COURT.h)
  g.fillStyle = "rgba(255,255,255,0.15)"
  for (let y = 10; y < COURT.h; y += 30) g.fillRect(COURT.w / 2 - 2, y, 4, 16)

  g.font = "bold 48px system-ui, sans-serif"
  g.textAlign = "center"
  g.fillStyle = "rgba(255,255,255,0.35)"
  g.fillText(String(s.left?.score ?? 0), COURT.w / 2 - 80, 64)
  g.fillText(String(s.right?.score ?? 0), COURT.w / 2 + 80, 64)
  g.font = "14px system-ui, sans-serif"
  g.fillText(s.left?.player ?? "waiting…", COURT.w / 4, COURT.h - 16)
  g.fillText(s.right?.player ?? "waiting…", (3 * COURT.w) / 4, COURT.h - 16)

  for (const [p, x] of [
    [s.left, PADDLE.inset],
    [s.right, COURT.w - PADDLE.inset - PADDLE.w],
  ] as const) {
    if (!p) continue
    g.fillStyle = p.player === me ? "#69db7c" : "#f1f3f5"
    g.fillRect(x, p.y - PADDLE.h / 2, PADDLE.w, PADDLE.h)
  }
  if (s.phase === "playing" || s.phase === "serving") {
    const x = s.ball.x + s.ball.vx * ahead
    const y = Math.min(COURT.h - BALL_R, Math.max(BALL_R, s.ball.y + s.ball.vy * ahead))
    g.beginPath()
    g.arc(x, y, BALL_R, 0, Math.PI * 2)
    g.fillStyle = "#ffd43b"
    g.fill()
  }
}

function renderMessage(s: PongState, me: string): void {
  let text: string
  if (s.phase === "waiting") text = "Waiting for an opponent…"
  else if (s.phase === "serving") text = `Serve in ${secondsLeft(s.serveAt) ?? 0}s`
  else if (s.phase === "playing") text = `Rally: ${s.rally}`
  else text = s.winner === me ? "You win!" : `${s.winner ?? "Nobody"} wins`
  if (message.textContent !== text) message.textContent = text
}
