// The dashboard: polls the node it was served by (any node: it asks its peers) once a second.
import { $, esc, get, hashParams } from "./common.ts"
import { openInspector, refreshInspector } from "./inspector.ts"

interface Member {
  id: string
  url: string
  status: string
  version: string
  sessions: number
  up: boolean
  lastHeardMs: number
}
interface Entry {
  id: string
  game: string
  owner: string
  epoch: number
  status: string
  replicas: string[]
}
interface Summary {
  id: string
  players: { player: string; connected: boolean }[]
}
/** A timeline entry (node/timeline.ts): a node's event, with its level and words. */
interface Event {
  /** The event's type; absent from nodes older than typed events (a roll mixes versions). */
  t?: string
  time: number
  node: string
  level: string
  msg: string
  [k: string]: unknown
}

/** Sessions moving: highlighted. */
const MOVES = new Set(["session-adopted", "session-released", "failover", "draining", "drained"])

const short = (id: string) => esc(id)
const events: Event[] = []
let since = 0

function detail(e: Event): string {
  const keys = ["session", "member", "status", "game", "player", "via", "reason", "why", "epoch", "sessions", "moved", "ms", "from", "target", "signer", "count", "reasons", "site", "where", "errorId", "error"]
  return keys
    .filter((k) => e[k] !== undefined && e[k] !== null)
    .map((k) => `${k}=${typeof e[k] === "object" ? JSON.stringify(e[k]) : e[k]}`)
    .join(" ")
}

async function refresh(): Promise<void> {
  const [cluster, registry, list, timeline] = await Promise.all([
    get<{ node: string; members: Member[] }>("/cluster"),
    get<{ sessions: Entry[] }>("/cluster/registry"),
    get<{ sessions: Summary[] }>("/sessions"),
    get<{ events: Event[] }>(`/cluster/timeline?since=${since}`),
  ])
  const up = cluster.members.filter((m) => m.up)
  $("#summary").textContent = `${up.length} of ${cluster.members.length} members up · ${registry.sessions.filter((s) => s.status === "open").length} open sessions · served by ${cluster.node}`
  $("#updated").textContent = `updated ${new Date().toLocaleTimeString()}`

  $("#members tbody").innerHTML = cluster.members
    .map((m) => {
      const status = m.up ? m.status : "down"
      return `<tr data-member="${esc(m.id)}"><td>${short(m.id)}</td><td>${esc(m.url)}</td><td><span class="status ${esc(status)}">${esc(status)}</span></td><td>${esc(m.version)}</td><td>${m.sessions}</td><td>${m.lastHeardMs} ms</td></tr>`
    })
    .join("")

  const players = new Map(list.sessions.map((s) => [s.id, s.players]))
  $("#sessions tbody").innerHTML = registry.sessions
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((s) => {
      const ps = players.get(s.id) ?? []
      const who = ps.map((p) => `${esc(p.player)}${p.connected ? "" : " (away)"}`).join(", ")
      return `<tr data-session="${esc(s.id)}"><td><a class="inspect" href="#" title="inspect this session">${short(s.id)}</a></td><td>${esc(s.game)}</td><td class="owner">${short(s.owner)}</td><td>${s.replicas.map(short).join(", ")}</td><td class="epoch">${s.epoch}</td><td>${who}</td><td><span class="status ${esc(s.status)}">${esc(s.status)}</span></td></tr>`
    })
    .join("")

  for (const e of timeline.events) if (e.time > since - 1) events.push(e)
  if (timeline.events.length) since = Math.max(since, ...timeline.events.map((e) => e.time))
  const seen = new Set<string>()
  const unique = events.filter((e) => {
    const k = `${e.time}|${e.node}|${e.msg}|${e.session ?? e.member ?? ""}`
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
  events.splice(0, events.length, ...unique.slice(-300))
  $("#timeline").innerHTML = [...events]
    .reverse()
    .map((e) => {
      const moving = e.t ? MOVES.has(e.t) : /adopted|released|failover|moved|draining|drained/.test(e.msg)
      const kind = moving ? "move" : e.level === "error" ? "error" : ""
      return `<li class="${kind}"><span class="time">${new Date(e.time).toLocaleTimeString()}</span><span class="node">${short(e.node)}</span>${esc(e.msg)} <span class="detail">${esc(detail(e))}</span></li>`
    })
    .join("")
}

async function loop(): Promise<void> {
  try {
    await refresh()
  } catch (error) {
    $("#summary").textContent = `cannot reach the node: ${(error as Error).message}`
  }
  await refreshInspector()
  setTimeout(loop, 1000)
}

// A session's id opens it in the inspector (the table is redrawn every second: one listener on the table).
$("#sessions").addEventListener("click", (e) => {
  const row = (e.target as HTMLElement).closest("a.inspect")?.closest("tr")
  if (!row) return
  e.preventDefault()
  void openInspector(row.getAttribute("data-session") ?? "")
})
const linked = hashParams().get("session")
if (linked) void openInspector(linked)
void loop()
