// The session inspector: one session's live state, players, timers and latest steps, and its
// history checkpoint by checkpoint with the change each made (GET /sessions/:id/inspect).
import type { SessionRecord, Step } from "../../game/index.ts"
import type { InspectView } from "../../node/inspect.ts"
import { applyPatch } from "../../protocol/patch.ts"
import { $, esc, fetchOk, get, hashParams } from "./common.ts"

type Inspected = InspectView & { via: { node: string; how: "here" | "owner" | "copy"; owner?: string } }

let open: string | undefined
let data: Inspected | undefined
/** The record at each position: 0 the document's start, i + 1 after checkpoint i (the last: the newest). */
let records: SessionRecord[] = []
let position = 0
/** Following the newest record (refreshed with the page); false once scrubbed back. */
let following = true
let busy = false

const time = (ms: number) => {
  const d = new Date(ms)
  return `${d.toLocaleTimeString()}.${String(d.getMilliseconds()).padStart(3, "0")}`
}
/** A duration for people: 1.5 s, 9 min 59 s, 2 h 5 min. */
const span = (ms: number) => {
  const s = Math.abs(ms) / 1000
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.floor(s % 60)} s`
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
}
const json = (x: unknown, max = 160) => {
  const s = x === undefined ? "" : JSON.stringify(x)
  return esc(s.length > max ? `${s.slice(0, max)}…` : s)
}

export async function openInspector(id: string): Promise<void> {
  open = id
  data = undefined
  following = true
  const params = hashParams()
  params.set("session", id)
  history.replaceState(null, "", `#${params}`)
  $("#inspector").hidden = false
  $("#i-id").textContent = id
  $("#i-source").textContent = "reading…"
  await refreshInspector(true)
  $("#inspector").scrollIntoView({ block: "start" })
}

function closeInspector(): void {
  open = undefined
  data = undefined
  $("#inspector").hidden = true
  const params = hashParams()
  params.delete("session")
  history.replaceState(null, "", `#${params}`)
}

/** Reads the session again, unless scrubbed back in its history (the positions would move under the reader). */
export async function refreshInspector(force = false): Promise<void> {
  if (!open || busy || (!following && !force)) return
  busy = true
  const id = open
  try {
    const got = await get<Inspected>(`/sessions/${encodeURIComponent(id)}/inspect`)
    if (open !== id) return
    data = got
    records = [got.history.start.record]
    for (const c of got.history.checkpoints) records.push(applyPatch(records[records.length - 1] as SessionRecord, c.ops))
    if (following) position = records.length - 1
    render()
  } catch (error) {
    if (open === id) $("#i-source").textContent = `cannot read session ${id}: ${(error as Error).message}`
  } finally {
    busy = false
  }
}

function source(d: Inspected): string {
  const how =
    d.via.how === "here"
      ? `read on ${d.via.node}, which runs it`
      : d.via.how === "owner"
        ? `relayed by ${d.via.node} to ${d.via.owner}, which runs it`
        : `from ${d.via.node}'s replica copy of its document, as of its newest checkpoint (no node running it answered)`
  return `${d.game} · ${d.record.status} · epoch ${d.epoch} · ${d.durability} · ${how}`
}

function render(): void {
  const d = data
  if (!d) return
  $("#i-source").textContent = source(d)
  $("#i-ledger tbody").innerHTML = [...d.ledger].reverse().map(ledgerRow).join("") || `<tr><td colspan="6">no step recorded yet</td></tr>`
  const select = $<HTMLSelectElement>("#i-as")
  const chosen = select.value
  select.innerHTML = [`<option value="">state</option>`, `<option value="*record">whole record</option>`, ...d.views.map((v) => `<option value="${esc(v.player)}">as ${esc(v.player)} sees it</option>`)].join("")
  select.value = [...select.options].some((o) => o.value === chosen) ? chosen : ""
  const scrub = $<HTMLInputElement>("#i-scrub")
  scrub.max = String(records.length - 1)
  scrub.value = String(position)
  renderPosition()
}

/** A step's cells: when, who, what, input, result, ack (HTML). */
function cells(s: Step & { acked?: boolean }): string[] {
  const who = "player" in s ? esc(s.player) : s.k === "advance" ? "timers/ticks" : "node"
  let what: string = s.k
  let input = ""
  let result = ""
  if (s.k === "act") {
    what = `act ${esc(s.name)}`
    input = `<code>${json(s.input)}</code>`
    result = s.ok ? `ok${s.value === undefined ? "" : ` <code>${json(s.value)}</code>`}` : `<span class="refused">refused: ${esc(s.code)}</span>`
  } else if (s.k === "advance") {
    what = `advance${s.timers?.length ? `: timer ${s.timers.map(esc).join(", ")}` : ""}${s.ticks ? ` (${s.ticks} tick${s.ticks > 1 ? "s" : ""})` : ""}`
  } else if (s.k === "end") result = `<code>${json(s.result)}</code>`
  const ack = s.k !== "act" ? "" : s.acked === false ? `<span class="held">held for a replica</span>` : "sent"
  return [time(s.at), who, what, input, result, ack]
}

function ledgerRow(s: Step & { acked?: boolean }): string {
  return `<tr>${cells(s).map((c) => `<td>${c}</td>`).join("")}</tr>`
}

function stepLine(s: Step): string {
  const [when, who, what, input, result] = cells(s)
  return `<li><span class="when">${when}</span> ${who} ${what} ${input}${result ? ` → ${result}` : ""}</li>`
}

function renderPosition(): void {
  const d = data
  if (!d) return
  const last = records.length - 1
  const record = records[position] as SessionRecord
  const c = position > 0 ? d.history.checkpoints[position - 1] : undefined
  // Players and timers as they were at this point; who is connected is known of the newest record only.
  const now = c?.at ?? d.history.start.at
  $("#i-players tbody").innerHTML =
    record.players
      .map((p) => {
        const live = position === last ? d.players.find((x) => x.player === p.player)?.connected : undefined
        return `<tr><td>${p.seat}</td><td>${esc(p.player)}</td><td>${live === undefined || live === null ? "–" : live ? "connected" : "away"}</td><td>${time(p.joinedAt)}</td></tr>`
      })
      .join("") || `<tr><td colspan="4">nobody is seated</td></tr>`
  $("#i-timers tbody").innerHTML =
    [...record.timers]
      .sort((a, b) => a.at - b.at)
      .map((t) => `<tr><td>${esc(t.name)}</td><td>${time(t.at)} (${t.at - now >= 0 ? "in" : "overdue by"} ${span(t.at - now)})</td><td><code>${json(t.payload)}</code></td></tr>`)
      .join("") || `<tr><td colspan="3">no pending timer</td></tr>`
  const what = c?.live ? "live, not checkpointed yet" : position === 0 ? "the document's start" : `checkpoint ${position} of ${d.history.checkpoints.filter((x) => !x.live).length}`
  const when = c ? time(c.at) : time(d.history.start.at)
  const replay = d.history.replayFrom >= 0 && position - 1 <= d.history.replayFrom ? " · before where an export starts (its steps were not recorded)" : ""
  $("#i-pos").textContent = `${what} · rev ${record.rev} · ${when}${position === last ? " · newest" : ""}${replay}`
  $<HTMLButtonElement>("#i-prev").disabled = position === 0
  $<HTMLButtonElement>("#i-next").disabled = position === last
  $<HTMLButtonElement>("#i-live").disabled = following
  // Views are the game's code: the node ran it on the newest record only.
  const as = $<HTMLSelectElement>("#i-as").value
  const view = d.views.find((v) => v.player === as)
  const shown = as === "*record" ? record : view && position === last ? (view.error ?? view.view) : record.state
  $("#i-state-note").textContent = view && position !== last ? `${as}'s view is of the newest record only: this is the whole state at rev ${record.rev}` : ""
  $("#i-state").textContent = JSON.stringify(shown, null, 2)
  $("#i-diff").innerHTML = !c
    ? `<li class="none">the start: no change before it</li>`
    : c.changes.length === 0
      ? `<li class="none">nothing changed (a new owner's first checkpoint)</li>`
      : c.changes.map((x) => `<li class="${x.kind}"><span class="path">${esc(x.path)}</span> ${x.kind === "changed" ? `<code>${json(x.before)}</code> → <code>${json(x.after)}</code>` : x.kind === "added" ? `added <code>${json(x.after)}</code>` : `removed (was <code>${json(x.before)}</code>)`}</li>`).join("") +
        (c.moreChanges ? `<li class="none">and ${c.moreChanges} more</li>` : "")
  $("#i-steps").innerHTML = !c
    ? ""
    : c.steps.length
      ? c.steps.map(stepLine).join("")
      : `<li class="none">${c.replayable ? "no step" : "no steps recorded (written by an older node, a migration or a recovery): an export starts after it"}</li>`
}

function go(to: number): void {
  position = Math.max(0, Math.min(records.length - 1, to))
  following = position === records.length - 1
  $<HTMLInputElement>("#i-scrub").value = String(position)
  renderPosition()
}

async function exportHistory(): Promise<void> {
  if (!open) return
  const status = $("#i-export-status")
  status.textContent = "exporting…"
  try {
    const res = await fetchOk(`/sessions/${encodeURIComponent(open)}/export`)
    const name = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") ?? "")?.[1] ?? `baton-${open}.json`
    const url = URL.createObjectURL(await res.blob())
    const a = document.createElement("a")
    a.href = url
    a.download = name
    a.click()
    setTimeout(() => URL.revokeObjectURL(url), 10_000)
    status.textContent = `saved ${name}: load it in a test with Session.replay(game, await Bun.file(path).json())`
  } catch (error) {
    status.textContent = `export failed: ${(error as Error).message}`
  }
}

$("#i-close").addEventListener("click", closeInspector)
$("#i-export").addEventListener("click", () => void exportHistory())
$("#i-prev").addEventListener("click", () => go(position - 1))
$("#i-next").addEventListener("click", () => go(position + 1))
$("#i-live").addEventListener("click", () => {
  following = true
  void refreshInspector(true)
})
$("#i-scrub").addEventListener("input", (e) => go(Number((e.target as HTMLInputElement).value)))
$("#i-as").addEventListener("change", renderPosition)
