/** The app: its games and its pages. `baton dev .` and `baton start .` serve this folder. */
import { defineApp } from "batonjs/server"
import salvo from "./games/salvo.ts"
import indexPage from "./pages/index.html"
import salvoPage from "./pages/salvo.html"

export default defineApp({
  games: [salvo],
  pages: { "/": indexPage, "/salvo": salvoPage },
})
