/** The front page: pick a name, start a game, or join one that waits for a second player. */
import { createSession, listSessions, type OpenSession } from "batonjs/client"
import { useEffect, useState } from "react"
import { messageOf, saveName, savedName, ToastBox, useToast } from "./common.tsx"

const play = (session: string, player: string) => {
  location.href = `/play?${new URLSearchParams({ session, player })}`
}

export function FrontPage() {
  const [name, setName] = useState(savedName)
  const [toast, show] = useToast()
  // Invited (the game page sent us here to pick a name first): one button joins that game.
  const invite = new URLSearchParams(location.search).get("invite")

  /** The name, or null after asking for one. */
  const player = (): string | null => {
    if (name.trim()) return name.trim()
    show("Type your name first", "error")
    document.getElementById("name")?.focus()
    return null
  }
  const join = (session: string) => {
    const p = player()
    if (p) play(session, p)
  }
  const start = async () => {
    const p = player()
    if (!p) return
    try {
      play((await createSession({ game: "connect-four" })).id, p)
    } catch (e) {
      show(messageOf(e), "error")
    }
  }

  return (
    <>
      <header className="bar">
        <h1>Connect Four</h1>
        <span className="spacer" />
        <label>
          Your name{" "}
          <input
            id="name"
            type="text"
            maxLength={24}
            placeholder="e.g. ada"
            autoComplete="nickname"
            autoFocus={invite !== null}
            value={name}
            onChange={(e) => {
              setName(e.target.value)
              saveName(e.target.value.trim())
            }}
          />
        </label>
      </header>
      <main>
        {invite && (
          <section className="panel">
            <h2>You were invited</h2>
            <p className="muted">Type your name above, then join.</p>
            <button id="join-invite" type="button" onClick={() => join(invite)}>
              Join the game you were invited to
            </button>
          </section>
        )}
        <section className="panel">
          <h2>Four in a row wins</h2>
          <p className="muted">Two players drop discs in turn into a 7 × 6 grid: across, down or diagonally, the first four in a line win.</p>
          <button id="new" type="button" onClick={start}>
            New game
          </button>
        </section>
        <section className="panel">
          <h2>Games waiting for a player</h2>
          <OpenGames onJoin={join} />
        </section>
      </main>
      <ToastBox toast={toast} />
    </>
  )
}

/** The open sessions with a seat free (the public listing), looked at every 2 s. */
function OpenGames({ onJoin }: { onJoin: (session: string) => void }) {
  const [games, setGames] = useState<OpenSession[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  useEffect(() => {
    let live = true
    const refresh = () =>
      listSessions({ game: "connect-four" }).then(
        (open) => live && (setGames(open), setError(null)),
        (e) => live && setError(messageOf(e)),
      )
    void refresh()
    const timer = setInterval(refresh, 2000)
    return () => {
      live = false
      clearInterval(timer)
    }
  }, [])

  if (error) return <p className="fatal">{error}</p>
  if (!games) return <p className="muted">Loading…</p>
  if (games.length === 0) return <p className="muted">None: start one and send the link to a friend.</p>
  return (
    <ul id="open" className="games-list">
      {games.map((s) => (
        <li key={s.id}>
          <span>{s.seated === 0 ? "nobody yet" : `${s.seated} of ${s.maxPlayers} seated`} </span>
          <code className="muted">{s.id}</code>{" "}
          <button type="button" className="secondary" onClick={() => onJoin(s.id)}>
            Join
          </button>
        </li>
      ))}
    </ul>
  )
}
