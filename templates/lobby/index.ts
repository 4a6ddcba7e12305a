/** The app: its games and its pages. `baton dev .` and `baton start .` serve this folder. */
import { defineApp } from "batonjs/server"
import duel from "./games/duel.ts"
import lobby from "./games/lobby.ts"
import indexPage from "./pages/index.html"

export default defineApp({
  // The lobby spawns duels: both games are part of the app.
  games: [lobby, duel],
  pages: { "/": indexPage },
})
