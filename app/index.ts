import { defineApp } from "batonjs/server"
import counter from "./games/counter.ts"
import memory from "./games/memory.ts"
import orbs from "./games/orbs.ts"
import counterHtml from "./pages/counter.html"
import indexHtml from "./pages/index.html"
import memoryHtml from "./pages/memory.html"
import orbsHtml from "./pages/orbs.html"

export default defineApp({
  games: [counter, memory, orbs],
  pages: { "/": indexHtml, "/memory": memoryHtml, "/orbs": orbsHtml, "/counter": counterHtml },
})
