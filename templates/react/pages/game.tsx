/**
 * The game: a React component on `useSession` from batonjs/react. The hook
 * takes the seat while the component is mounted and re-renders it whenever the state,
 * the connection or the events change; `act` is typed by the game's actions.
 */
import { useSession, type SessionEvent } from "batonjs/react"
import { useEffect, useState } from "react"
// The game module as a type only (no server code reaches the browser); the grid's helpers have no imports.
import type connectFour from "../games/connect-four.ts"
import type { ConnectFourState } from "../games/connect-four.ts"
import { COLUMNS, discOf, ROWS } from "../games/grid.ts"
import { ConnectionPill, messageOf, ToastBox, useToast } from "./common.tsx"

export function Game({ session, player }: { session: string; player: string }) {
  const { state, status, act, events, error } = useSession<typeof connectFour>({ session, player })
  const [toast, show] = useToast()

  // The events are a list; a hook reacts to the newest one (here: this player ran out of time).
  const last = events.at(-1)
  useEffect(() => {
    if (last?.name === "timeout" && (last.data as { player: string }).player === player) show("You ran out of time: the turn passed", "error")
  }, [last, player, show])

  const drop = (column: number) => act("drop", { column }).catch((e) => show(messageOf(e), "error"))

  return (
    <>
      <header className="bar">
        <a href="/">← Connect Four</a>
        <span className="muted">playing as {player}</span>
        <span className="spacer" />
        <ConnectionPill status={status} />
      </header>
      <main>
        <section className="panel">
          {error ? (
            <div id="message" className="message fatal">
              Cannot play: {error.message}
            </div>
          ) : !state ? (
            <div id="message" className="message">
              Joining…
            </div>
          ) : (
            <>
              <Message state={state} player={player} />
              <Board state={state} player={player} canPlay={status === "open"} onDrop={drop} />
            </>
          )}
          <p id="share" className="muted">
            Invite someone: {location.origin}/play?session={session}
          </p>
        </section>
        <section className="panel">
          <h2>What happened</h2>
          <Log events={events} player={player} />
        </section>
      </main>
      <ToastBox toast={toast} />
    </>
  )
}

/** Whose turn, with the clock; or who won. */
function Message({ state, player }: { state: ConnectFourState; player: string }) {
  const left = useSecondsLeft(state.turns.endsAt)
  const you = discOf(state.turns.order, player)
  let text: string
  if (state.phase === "waiting") text = "Waiting for an opponent…"
  else if (state.phase === "ended") text = state.winner === null ? "A draw: the grid is full" : state.winner === player ? "You win: four in a row!" : `${state.winner} wins`
  else text = state.turns.current === player ? `Your turn: drop a ${you} disc` : `${state.turns.current} is thinking…`
  return (
    <div id="message" className="message">
      {text}
      {state.phase === "playing" && left !== null && <span className="timer">{left}s</span>}
    </div>
  )
}

/** The grid, a column of buttons each: a click drops a disc there. */
function Board({ state, player, canPlay, onDrop }: { state: ConnectFourState; player: string; canPlay: boolean; onDrop: (column: number) => void }) {
  const myTurn = canPlay && state.phase === "playing" && state.turns.current === player
  const winning = new Set(state.line)
  return (
    <div id="board" className="board">
      {Array.from({ length: COLUMNS }, (_, column) => (
        <button
          key={column}
          type="button"
          className="column"
          data-column={column}
          aria-label={`drop in column ${column + 1}`}
          disabled={!myTurn || state.grid[column] !== null}
          onClick={() => onDrop(column)}
        >
          {Array.from({ length: ROWS }, (_, row) => {
            const cell = row * COLUMNS + column
            return <span key={row} className={`cell${winning.has(cell) ? " won" : ""}`} data-cell={cell} data-disc={state.grid[cell] ?? "empty"} />
          })}
        </button>
      ))}
    </div>
  )
}

function Log({ events, player }: { events: readonly SessionEvent[]; player: string }) {
  const who = (p: unknown) => (p === player ? "you" : String(p))
  const line = (e: SessionEvent): string => {
    const d = e.data as Record<string, unknown>
    if (e.name === "joined") return `${who(d.player)} sat down`
    if (e.name === "start") return "the game begins"
    if (e.name === "drop") return `${who(d.by)} dropped a disc in column ${Number(d.column) + 1}`
    if (e.name === "timeout") return `${who(d.player)} ran out of time`
    return e.name
  }
  return (
    <ul id="log" className="log">
      {[...events].reverse().map((e) => (
        <li key={e.seq}>{line(e)}</li>
      ))}
    </ul>
  )
}

/** Seconds left until `at` (ms since the epoch), never negative, ticking; null without a clock. */
function useSecondsLeft(at: number | null): number | null {
  const [now, setNow] = useState(Date.now)
  useEffect(() => {
    if (at === null) return
    const timer = setInterval(() => setNow(Date.now()), 250)
    return () => clearInterval(timer)
  }, [at])
  return at === null ? null : Math.max(0, Math.ceil((at - now) / 1000))
}
