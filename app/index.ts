import { defineApp } from "baton/server"
import counter from "./games/counter.ts"

export default defineApp({ games: [counter] })
