import { expect, test } from "bun:test"
import { devRows, type MemberRow } from "../../framework/cli/dev-table.ts"

const row = (id: string, port: number, up: boolean, voter = true): MemberRow => ({ id, url: `http://127.0.0.1:${port}`, status: up ? "ready" : "gone", version: "1", sessions: 0, up, voter })

test("the dev table: in port order, without the nodes a roll replaced; a node that died stays, down", () => {
  const rows = devRows([
    row("n-c", 3003, true),
    row("n-old1", 3001, false, false), // said goodbye in a roll
    row("n-a", 3001, true), // its successor at the same port
    row("n-old2", 3002, false), // down, not gone by its own word, but its port is served again
    row("n-b", 3002, true),
    row("n-dead", 3004, false), // died: nobody took its port yet
  ])
  expect(rows.map((r) => r.id)).toEqual(["n-a", "n-b", "n-c", "n-dead"])
})
