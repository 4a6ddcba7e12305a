/**
 * The page's React app, for both routes (index.ts serves this page at "/"
 * and "/play"): the front page, or the game named by ?session=…&player=….
 */
import { StrictMode } from "react"
import { createRoot } from "react-dom/client"
import { savedName } from "./common.tsx"
import { FrontPage } from "./front.tsx"
import { Game } from "./game.tsx"

const root = createRoot(document.getElementById("root") as HTMLElement)
const query = new URLSearchParams(location.search)
const session = query.get("session")
const player = query.get("player") || savedName()

if (location.pathname !== "/play")
  root.render(
    <StrictMode>
      <FrontPage />
    </StrictMode>,
  )
// Someone who opens an invite link before choosing a name picks one first; the invite is kept.
else if (!session) location.replace("/")
else if (!player) location.replace(`/?${new URLSearchParams({ invite: session })}`)
else
  root.render(
    <StrictMode>
      <Game session={session} player={player} />
    </StrictMode>,
  )
