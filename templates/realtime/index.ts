/** The app: its games and its pages. `baton dev .` and `baton start .` serve this folder. */
import { defineApp } from "batonjs/server"
import pong from "./games/pong.ts"
import indexPage from "./pages/index.html"
import pongPage from "./pages/pong.html"

export default defineApp({
  games: [pong],
  pages: { "/": indexPage, "/pong": pongPage },
})
