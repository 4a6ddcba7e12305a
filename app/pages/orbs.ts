/** The orbs arena: draws the shared state on a canvas and sends `steer` from keys, mouse or touch. */
import { ActionError, type GameSession, join } from "batonjs/client"
import type orbs from "../games/orbs.ts"
import { byId, el, fatal, seatFromUrl, secondsLeft, showConnection, toast } from "./common.ts"

type OrbsSession = GameSession<typeof orbs>
type OrbsView = OrbsSession["state"]

const PALETTE = ["#ff6b6b", "#4dabf7", "#69db7c", "#ffd43b", "#da77f2", "#ffa94d", "#3bc9db", "#f783ac"]
const PLAYER_RADIUS = 12
const ORB_RADIUS = 8

const main = byId("main")
const canvas = byId<HTMLCanvasElement>("arena")
const overlay = byId("overlay")
const scoresBox = byId("scores")
const message = byId("message")

const seat = seatFromUrl()
if (!seat) location.replace("/")
else start(seat.session, seat.player)

async function start(sessionId: string, player: string): Promise<void> {
  byId("who").textContent = `playing as ${player}`
  let session: OrbsSession
  try {
    session = await join<typeof orbs>({ session: sessionId, player })
  } catch (e) {
    fatal(main, `Cannot join session ${sessionId}: ${e instanceof Error ? e.message : e}`)
    return
  }
  showConnection(byId("conn"), session)
  session.on("collect", (d) => {
    const { player: who } = d as { player: string }
    if (who === session.player) flash = performance.now()
  })

  const steer = steering(session)
  renderScores(session.state, session.player)
  session.subscribe((s, prev) => {
    if (s.players !== prev?.players) renderScores(s, session.player)
  })

  const shown = new Map<string, { x: number; y: number }>()
  let last = performance.now()
  const frame = (t: number) => {
    const dt = Math.min(0.1, (t - last) / 1000)
    last = t
    const s = session.state
    // Ease drawn positions toward the latest state: 20 updates a second look smooth at 60 fps.
    for (const [id, p] of Object.entries(s.players)) {
      const d = shown.get(id)
      if (!d) shown.set(id, { x: p.x, y: p.y })
      else {
        const k = Math.min(1, dt * 18)
        d.x += (p.x - d.x) * k
        d.y += (p.y - d.y) * k
      }
    }
    for (const id of shown.keys()) if (!s.players[id]) shown.delete(id)
    draw(s, shown, session.player, t)
    renderMessage(s, session)
    steer.update(shown.get(session.player))
    requestAnimationFrame(frame)
  }
  requestAnimationFrame(frame)
}

let flash = -1e9

function draw(s: OrbsView, shown: Map<string, { x: number; y: number }>, me: string, t: number): void {
  const dpr = window.devicePixelRatio || 1
  const w = s.arena.w
  const h = s.arena.h
  if (canvas.width !== w * dpr) {
    canvas.width = w * dpr
    canvas.height = h * dpr
  }
  const g = canvas.getContext("2d")
  if (!g) return
  g.setTransform(dpr, 0, 0, dpr, 0, 0)
  g.fillStyle = "#0b1020"
  g.fillRect(0, 0, w, h)
  g.strokeStyle = "rgba(255,255,255,0.05)"
  g.lineWidth = 1
  for (let x = 50; x < w; x += 50) line(g, x, 0, x, h)
  for (let y = 50; y < h; y += 50) line(g, 0, y, w, y)

  const pulse = 1 + 0.15 * Math.sin(t / 200)
  for (const o of s.orbs) {
    g.beginPath()
    g.arc(o.x, o.y, ORB_RADIUS * 1.9 * pulse, 0, Math.PI * 2)
    g.fillStyle = "rgba(255, 212, 59, 0.15)"
    g.fill()
    g.beginPath()
    g.arc(o.x, o.y, ORB_RADIUS, 0, Math.PI * 2)
    g.fillStyle = "#ffd43b"
    g.fill()
  }

  g.font = "12px system-ui, sans-serif"
  g.textAlign = "center"
  for (const [id, p] of Object.entries(s.players)) {
    const at = shown.get(id) ?? p
    const color = PALETTE[p.color % PALETTE.length] ?? "#fff"
    if (id === me) {
      g.beginPath()
      const glow = Math.max(0, 1 - (t - flash) / 400)
      g.arc(at.x, at.y, PLAYER_RADIUS + 5 + glow * 8, 0, Math.PI * 2)
      g.strokeStyle = `rgba(255,255,255,${0.5 + glow * 0.5})`
      g.lineWidth = 2
      g.stroke()
    }
    g.beginPath()
    g.arc(at.x, at.y, PLAYER_RADIUS, 0, Math.PI * 2)
    g.fillStyle = color
    g.fill()
    g.fillStyle = "rgba(255,255,255,0.85)"
    // The label stays inside the arena, below the dot when there is no room above.
    const label = `${id} · ${p.score}`
    const half = g.measureText(label).width / 2 + 2
    const above = at.y - PLAYER_RADIUS - (id === me ? 12 : 7)
    const ly = above > 14 ? above : at.y + PLAYER_RADIUS + (id === me ? 20 : 15)
    g.fillText(label, Math.min(w - half, Math.max(half, at.x)), ly)
  }
}

function line(g: CanvasRenderingContext2D, x1: number, y1: number, x2: number, y2: number): void {
  g.beginPath()
  g.moveTo(x1, y1)
  g.lineTo(x2, y2)
  g.stroke()
}

function renderScores(s: OrbsView, me: string): void {
  const ranked = Object.entries(s.players).sort((a, b) => b[1].score - a[1].score || a[0].localeCompare(b[0]))
  scoresBox.replaceChildren(
    ...ranked.map(([id, p]) => {
      const li = el("li", id === me ? "turn" : "")
      const sw = el("span", "swatch")
      sw.style.background = PALETTE[p.color % PALETTE.length] ?? "#fff"
      li.append(sw, el("span", "", id === me ? `${id} (you)` : id), el("span", "score", String(p.score)))
      return li
    }),
  )
}

let lastMessage = ""
function renderMessage(s: OrbsView, session: OrbsSession): void {
  let text = ""
  let big = ""
  if (s.phase === "waiting") big = "Waiting for the round to start…"
  else if (s.phase === "playing") text = `Time left: ${secondsLeft(s.endsAt) ?? "–"}s`
  else {
    const w = s.winners
    big = w.length === 0 ? "Round over: nobody scored" : w.length > 1 ? `Round over: a tie between ${w.join(", ")}` : w[0] === session.player ? "Round over: you win!" : `Round over: ${w[0]} wins`
    text = "Round over"
  }
  const key = `${text}|${big}`
  if (key === lastMessage) return
  lastMessage = key
  message.replaceChildren(text)
  if (s.phase === "ended") {
    const again = el("a", "", "play again from the games page")
    again.href = "/"
    message.append(" · ", again)
  }
  overlay.hidden = !big
  overlay.textContent = big
}

/** Turns keys and the pointer into `steer` actions, sent only when the direction changes. */
function steering(session: OrbsSession): { update(me: { x: number; y: number } | undefined): void } {
  const keys = new Set<string>()
  const KEYS: Record<string, [number, number]> = {
    ArrowUp: [0, -1], KeyW: [0, -1], ArrowDown: [0, 1], KeyS: [0, 1],
    ArrowLeft: [-1, 0], KeyA: [-1, 0], ArrowRight: [1, 0], KeyD: [1, 0],
  }
  let pointer: { x: number; y: number } | null = null
  let sent = { dx: 0, dy: 0 }
  let sentAt = 0

  const send = (dx: number, dy: number) => {
    if (dx === sent.dx && dy === sent.dy) return
    sent = { dx, dy }
    sentAt = performance.now()
    session.act("steer", { dx, dy }).catch((e) => {
      if (e instanceof ActionError && e.code !== "round_over" && e.code !== "session_ended") toast(e.message, "error")
    })
  }
  const fromKeys = () => {
    let dx = 0
    let dy = 0
    for (const k of keys) {
      const d = KEYS[k]
      if (d) {
        dx += d[0]
        dy += d[1]
      }
    }
    const len = Math.hypot(dx, dy) || 1
    send(q(dx / len), q(dy / len))
  }
  window.addEventListener("keydown", (e) => {
    if (!(e.code in KEYS)) return
    e.preventDefault()
    pointer = null
    keys.add(e.code)
    fromKeys()
  })
  window.addEventListener("keyup", (e) => {
    if (!keys.delete(e.code)) return
    fromKeys()
  })
  window.addEventListener("blur", () => {
    keys.clear()
    pointer = null
    send(0, 0)
  })

  const toArena = (e: PointerEvent) => {
    const r = canvas.getBoundingClientRect()
    const s = session.state.arena
    return { x: ((e.clientX - r.left) / r.width) * s.w, y: ((e.clientY - r.top) / r.height) * s.h }
  }
  canvas.addEventListener("pointerdown", (e) => {
    canvas.setPointerCapture(e.pointerId)
    pointer = toArena(e)
  })
  canvas.addEventListener("pointermove", (e) => {
    if (pointer) pointer = toArena(e)
  })
  const release = () => {
    if (!pointer) return
    pointer = null
    send(0, 0)
  }
  canvas.addEventListener("pointerup", release)
  canvas.addEventListener("pointercancel", release)

  return {
    // Called every frame: the pointer's direction changes as the dot moves toward it.
    update(me) {
      if (!pointer || !me || performance.now() - sentAt < 60) return
      const dx = pointer.x - me.x
      const dy = pointer.y - me.y
      const len = Math.hypot(dx, dy)
      if (len < 6) send(0, 0)
      else send(q(dx / len), q(dy / len))
    },
  }
}

/** Directions in steps of 0.05: fewer, shorter frames; the server keeps 0.01. */
function q(x: number): number {
  return Math.round(x * 20) / 20
}
