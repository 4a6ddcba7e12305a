/**
 * batonjs/react: React hooks over batonjs/client (React 18 or 19, an
 * optional peer dependency: nothing else in batonjs imports React). Import
 * the game module as a type only, as with the client:
 *
 *   import type tictactoe from "../games/tictactoe.ts"
 *   const { state, status, act } = useSession<typeof tictactoe>({ session: id, player: "ada" })
 *   <button onClick={() => act("place", { cell: 4 })} disabled={status !== "open"} />
 */
import { createContext, createElement, type ReactNode, useContext, useEffect, useMemo, useSyncExternalStore } from "react"
import type { AnyGame } from "../game/define.ts"
import { type SessionOptions, type SessionSnapshot, SessionStore, seatKey } from "./store.ts"

export type { SessionEvent, SessionOptions, SessionSnapshot } from "./store.ts"

/** One store per seat: a change of session, player, url or urls makes another (and so another connection). */
function useStore<G extends AnyGame>(options: SessionOptions | null): SessionStore<G> {
  const key = seatKey(options)
  // Keyed by what the options say of the seat, not by the object (a new one every render).
  return useMemo(() => new SessionStore<G>(options), [key])
}

function useSnapshot<G extends AnyGame>(store: SessionStore<G>): SessionSnapshot<G> {
  // The server snapshot is the store's first one ("connecting", no state): nothing connects on a server.
  return useSyncExternalStore(store.subscribe, store.getSnapshot, store.getSnapshot)
}

/**
 * Takes a seat in a session (as `join` does) for as long as the component is
 * mounted, and re-renders it when the session changes: the player's view
 * (typed from the game module), the connection's status, the latest events,
 * whether it ended and with what result, and `act`, typed by the game's
 * actions and resolving to what the action returned.
 *
 * The connection opens when the component mounts and closes when it
 * unmounts; another `session`, `player`, `url` or `urls` closes it and opens
 * a new one (the other options are read when it opens). `null`: no session
 * yet, nothing opens. `state` is the client's own snapshot, never copied:
 * what did not change keeps its identity, so memoised children skip work.
 */
export function useSession<G extends AnyGame = AnyGame>(options: SessionOptions | null): SessionSnapshot<G> {
  return useSnapshot(useStore<G>(options))
}

const SessionContext = createContext<SessionStore | null>(null)

/** What `SessionProvider` takes. */
export interface SessionProviderProps {
  /** The seat to take, as for `useSession`; null: none yet. */
  options: SessionOptions | null
  /** The components that read the session with `useSessionContext`. */
  children?: ReactNode
}

/**
 * Shares one connection with every component below it
 * (`useSessionContext`), instead of each `useSession` opening its own. It
 * holds the connection while mounted, whether or not a child reads it, and
 * re-renders only the children that read it.
 */
export function SessionProvider({ options, children }: SessionProviderProps): ReactNode {
  const store = useStore(options)
  useEffect(() => store.subscribe(() => {}), [store])
  return createElement(SessionContext.Provider, { value: store }, children)
}

/**
 * The session of the nearest `SessionProvider`, as `useSession` gives it.
 * Name the game's type here (`useSessionContext<typeof tictactoe>()`): a
 * context cannot carry it. Throws outside a provider.
 */
export function useSessionContext<G extends AnyGame = AnyGame>(): SessionSnapshot<G> {
  const store = useContext(SessionContext)
  if (!store) throw new Error("useSessionContext() is called outside a <SessionProvider>")
  return useSnapshot(store as unknown as SessionStore<G>)
}
