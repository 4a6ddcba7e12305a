/** The front page: pick a name, start a game, or join one that waits for a second player. */
import { ActionError, createSession, listSessions } from "batonjs/client"
import { byId, el, saveName, savedName, toast } from "./common.ts"

const nameInput = byId<HTMLInputElement>("name")
const openBox = byId("open")

nameInput.value = savedName()
nameInput.addEventListener("input", () => saveName(nameInput.value.trim()))

function name(): string | null {
  const n = nameInput.value.trim()
  if (n) return n
  toast("Type your name first", "error")
  nameInput.focus()
  return null
}

const play = (session: string, player: string) => {
  location.href = `/salvo?${new URLSearchParams({ session, player })}`
}

// Invited (the game page sent us here to pick a name first): one button joins that game.
const invite = new URLSearchParams(location.search).get("invite")
if (invite) {
  const join = el("button", "", "Join the game you were invited to")
  join.id = "join-invite"
  join.addEventListener("click", () => {
    const player = name()
    if (player) play(invite, player)
  })
  const box = el("section", "panel")
  box.append(el("h2", "", "You were invited"), el("p", "muted", "Type your name above, then join."), join)
  document.querySelector("main")?.prepend(box)
  nameInput.focus()
}

byId("new").addEventListener("click", async () => {
  const player = name()
  if (!player) return
  try {
    play((await createSession({ game: "salvo" })).id, player)
  } catch (e) {
    toast(e instanceof ActionError ? e.message : String(e), "error")
  }
})

async function refresh(): Promise<void> {
  const waiting = await listSessions({ game: "salvo" }) // open sessions with a seat free (the public listing)
  if (waiting.length === 0) {
    openBox.replaceChildren(el("p", "muted", "None: start one and send the link to a friend."))
    return
  }
  const list = el("ul", "games-list")
  for (const s of waiting) {
    const li = el("li")
    const who = s.seated === 0 ? "nobody yet" : `${s.seated} of ${s.maxPlayers} seated`
    const join = el("button", "secondary", "Join")
    join.addEventListener("click", () => {
      const player = name()
      if (player) play(s.id, player)
    })
    li.append(el("span", "", `${who} `), el("code", "muted", s.id), " ", join)
    list.append(li)
  }
  openBox.replaceChildren(list)
}

refresh().catch((e) => openBox.replaceChildren(el("p", "fatal", String(e))))
setInterval(() => refresh().catch(() => {}), 2000)
