// One playground player: a seat taken through the real SDK, its live view, a form per action, and its log.
import { ActionError, type GameSession, join } from "../../client/index.ts"
import type { GameDescription } from "../playground-api.ts"
import { el } from "./dom.ts"
import { type Field, formFor } from "./forms.ts"
import type { JsonSchema } from "./json-schema.ts"

/** What a seat needs from the page: where players connect, and fresh credentials for its player. */
export interface SeatOptions {
  game: GameDescription
  session: string
  /** The name the operator gave. */
  name: string
  /** The player's id (where players are authenticated, the name under the playground's prefix). */
  player: string
  /** Where players connect (the page's origin, or the node's players' port). */
  url: string
  /** A fresh token for each (re)connect, when the node authenticates players. */
  token?: () => Promise<string>
  /** Called when the seat is dismissed (its connection closed). */
  onRemove(): void
}

const STATUS_TEXT = { connecting: "connecting…", open: "connected", reconnecting: "reconnecting…", closed: "closed" } as const

const json = (value: unknown) => (value === undefined ? "" : JSON.stringify(value))

/** A player's panel. Builds its DOM at once; `start` takes the seat. */
export class Seat {
  readonly el = el("article", "seat")
  readonly #opts: SeatOptions
  readonly #status = el("span", "conn", "connecting…")
  readonly #seatNo = el("span", "seat-no")
  readonly #view = el("pre", "view")
  readonly #log = el("ol", "log")
  readonly #formError = el("p", "form-error")
  #session: GameSession | undefined
  #field: Field | undefined
  #paint = 0
  #endedShown = false

  constructor(opts: SeatOptions) {
    this.#opts = opts
    this.el.dataset.player = opts.player
    this.el.dataset.name = opts.name
    const head = el("header")
    const leave = el("button", "leave", "Leave")
    leave.title = "give the seat up (the game's onLeave runs)"
    leave.onclick = () => void this.#session?.leave().catch((error) => this.#line("error", describe(error), "leave"))
    const dismiss = el("button", "dismiss", "×")
    dismiss.title = "close this connection and remove the panel (the seat stays taken)"
    dismiss.onclick = () => this.remove()
    const title = el("h3", "", opts.name)
    title.title = `player id ${opts.player}`
    head.append(title, this.#seatNo, this.#status, leave, dismiss)
    this.#status.dataset.status = "connecting"
    this.el.append(head, this.#actionForm(), el("h4", "", "View"), this.#view, el("h4", "", "Events and answers"), this.#log)
  }

  /** Takes the seat; a refusal (the game is full, a join rejected) shows in the log. */
  async start(): Promise<void> {
    const o = this.#opts
    try {
      const session = await join({ url: o.url, session: o.session, player: o.player, token: o.token, actTimeoutMs: 30_000 })
      this.#session = session
      this.#seatNo.textContent = `seat ${session.seat}`
      this.#setStatus(session.status)
      session.onStatus((s) => {
        this.#setStatus(s)
        if (s !== "open") this.#line("status", s)
      })
      session.onNotice((n) => this.#line("notice", n ? `${n.code}: ${n.message}` : "resolved"))
      session.on("*", (data, name) => this.#line("event", `${name} ${json(data)}`))
      session.subscribe(() => this.#schedulePaint())
      this.#line("status", `joined as ${o.player} (seat ${session.seat})`)
      this.#schedulePaint()
    } catch (error) {
      this.#setStatus("closed")
      this.#line("error", describe(error), "join")
    }
  }

  /** Closes the connection (the seat stays the player's) and removes the panel. */
  remove(): void {
    this.#session?.close()
    this.el.remove()
    this.#opts.onRemove()
  }

  #actionForm(): HTMLFormElement {
    const form = el("form", "act")
    // The node judges the input, not the browser: trying a value the schema refuses is part of trying a game.
    form.noValidate = true
    const { actions } = this.#opts.game
    const pick = el("select", "action")
    pick.name = "action"
    for (const a of actions) pick.append(new Option(a.name, a.name))
    const fields = el("div", "fields")
    const send = el("button", "send", "Send")
    send.type = "submit"
    let shown: string | undefined
    const show = () => {
      if (pick.value === shown) return // what was typed stays
      shown = pick.value
      const action = actions.find((a) => a.name === pick.value)
      this.#field = action ? formFor(action.schema as JsonSchema) : undefined
      fields.replaceChildren(...(this.#field ? [this.#field.el] : []))
      this.#formError.textContent = ""
    }
    pick.onchange = show
    show()
    form.onsubmit = (e) => {
      e.preventDefault()
      this.#send(pick.value)
    }
    if (actions.length === 0) form.append(el("p", "empty", "this game has no actions"))
    else form.append(el("label", "key", "act"), pick, fields, send, this.#formError)
    return form
  }

  #send(name: string): void {
    const read = this.#field?.read() ?? { ok: true as const, value: undefined }
    if (!read.ok) {
      this.#formError.textContent = read.error
      return
    }
    this.#formError.textContent = ""
    const session = this.#session
    if (!session) return this.#line("error", "not seated", name)
    const answer = session.act(name as never, read.value as never)
    this.#line("sent", `${name} ${json(read.value)}`, `#${answer.id}`)
    answer.then(
      (result) => this.#line("ok", `${name}${result === undefined ? "" : ` → ${json(result)}`}`, `#${answer.id}`),
      (error) => this.#line("error", describe(error), `#${answer.id} ${name}`),
    )
  }

  #setStatus(status: keyof typeof STATUS_TEXT): void {
    this.#status.textContent = STATUS_TEXT[status]
    this.#status.dataset.status = status
  }

  /** Realtime games change every tick: paint once a frame at most. */
  #schedulePaint(): void {
    if (this.#paint) return
    this.#paint = requestAnimationFrame(() => {
      this.#paint = 0
      const session = this.#session
      if (!session) return
      this.#view.textContent = JSON.stringify(session.state, null, 2)
      // A turn-based view flashes when it changes; a realtime one changes every tick, so it does not.
      if (!this.#opts.game.realtime) {
        this.#view.classList.remove("changed")
        void this.#view.offsetWidth // restarts the highlight's animation
        this.#view.classList.add("changed")
      }
      if (session.ended && !this.#endedShown) {
        this.#endedShown = true
        this.#line("ended", `session ended ${json(session.result)}`)
      }
    })
  }

  #line(kind: string, text: string, ref = ""): void {
    const li = el("li", kind)
    li.append(el("span", "time", new Date().toLocaleTimeString()), el("span", "kind", kind), ...(ref ? [el("span", "ref", ref)] : []), el("span", "text", text))
    this.#log.prepend(li)
    while (this.#log.children.length > 200) this.#log.lastElementChild?.remove()
  }
}

function describe(error: unknown): string {
  if (error instanceof ActionError) return `${error.code}: ${error.message}`
  return error instanceof Error ? error.message : String(error)
}
