/** The app: its games and its pages. `baton dev .` and `baton start .` serve this folder. */
import { defineApp } from "batonjs/server"
import connectFour from "./games/connect-four.ts"
import page from "./pages/index.html"

export default defineApp({
  games: [connectFour],
  // One React app for both routes: pages/main.tsx picks what to show by the path.
  pages: { "/": page, "/play": page },
})
