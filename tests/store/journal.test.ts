import { afterAll, describe, expect, test } from "bun:test"
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Session, type SessionRecord } from "batonjs"
import tally from "../fixtures/app/tally.ts"
import { Journal } from "../../framework/store/journal.ts"
import { Store } from "../../framework/store/index.ts"
import { toStored } from "../../framework/store/session-doc.ts"

const T0 = 1_700_000_000_000
const dirs: string[] = []
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "baton-journal-"))
  dirs.push(d)
  return d
}

function tallySession(id: string): Session<typeof tally> {
  const s = Session.create(tally, { id, now: T0, seed: "seed" })
  s.join("ada", T0)
  return s
}

let actionId = 0
function add(s: Session<typeof tally>, n = 1): SessionRecord {
  const out = s.act({ player: "ada", client: "c1", id: ++actionId, name: "add", input: { n }, now: T0 })
  if (!out.ok) throw new Error(out.code)
  return s.record
}

describe("the journal", () => {
  test("a session's lines replay to its last record; a torn last line is ignored", async () => {
    const dir = tmp()
    const { journal } = Journal.read(dir)
    await journal.start(new Map())
    const a = tallySession("a")
    const b = tallySession("b")
    for (let i = 0; i < 5; i++) await journal.append([{ id: "a", record: toStored(add(a)), epoch: 1 }, { id: "b", record: toStored(add(b, 2)), epoch: 3 }])
    await journal.close()
    // A write a SIGKILL cut short.
    appendFileSync(join(dir, readdirSync(dir)[0] as string), '{"s":"a","e":1,"r":99,"b":')
    const { recovered } = Journal.read(dir)
    expect(recovered.get("a")?.record.rev).toBe(a.record.rev)
    expect((recovered.get("a")?.record.state as { total: number }).total).toBe(5)
    expect(recovered.get("b")).toMatchObject({ epoch: 3, record: { rev: b.record.rev, state: { total: 10 } } })
  })

  test("a damaged line in the middle is skipped and named, the other sessions replay on, and the file is kept aside", async () => {
    const dir = tmp()
    const { journal } = Journal.read(join(dir, "journal"))
    await journal.start(new Map())
    const a = tallySession("a")
    const b = tallySession("b")
    for (let i = 0; i < 5; i++) await journal.append([{ id: "a", record: toStored(add(a)), epoch: 1 }, { id: "b", record: toStored(add(b, 2)), epoch: 1 }])
    await journal.close()
    // One damaged byte in line 5 (a's third line): what a bad sector or a stray write leaves.
    const file = join(dir, "journal", readdirSync(join(dir, "journal"))[0] as string)
    const lines = readFileSync(file, "utf8").split("\n")
    lines[4] = `#${(lines[4] as string).slice(1)}`
    writeFileSync(file, lines.join("\n"))
    const { journal: again, recovered, damaged } = Journal.read(join(dir, "journal"))
    expect(damaged).toEqual([{ file, lines: [5] }])
    // b's chain is whole; a's stops before the damaged line (its document is what the store compares it with).
    expect(recovered.get("b")).toMatchObject({ record: { rev: b.record.rev, state: { total: 10 } } })
    expect((recovered.get("a")?.record.state as { total: number }).total).toBe(2)
    const aside = join(dir, "damaged", "journal")
    await again.start(recovered, aside)
    expect(damaged[0]?.movedTo).toBe(join(aside, file.split("/").at(-1) as string))
    expect(readFileSync(damaged[0]?.movedTo as string, "utf8")).toBe(lines.join("\n"))
    await again.close()
  })

  test("past its size a new file starts with every session whole and the old one is deleted", async () => {
    const dir = tmp()
    const { journal } = Journal.read(dir, false, 2_000)
    await journal.start(new Map())
    const a = tallySession("a")
    const b = tallySession("b")
    await journal.append([{ id: "b", record: toStored(add(b, 7)), epoch: 1 }])
    // Only "a" changes from here on: "b" must be carried into each new file.
    for (let i = 0; i < 60; i++) await journal.append([{ id: "a", record: toStored(add(a)), epoch: 1 }])
    await journal.close()
    expect(readdirSync(dir).length).toBe(1)
    expect(Number.parseInt(readdirSync(dir)[0] as string)).toBeGreaterThan(2)
    const { recovered } = Journal.read(dir)
    expect((recovered.get("a")?.record.state as { total: number }).total).toBe(60)
    expect((recovered.get("b")?.record.state as { total: number }).total).toBe(7)
  })

  test("a store killed before its checkpoint reached the document loads the persisted record at the next start", async () => {
    const dataDir = tmp()
    // Checkpoints every minute: the document lags; only the journal has the actions.
    const first = await Store.open({ dataDir, peerId: "first", checkpointMs: 60_000 })
    const s = tallySession("s1")
    first.create(s.record, "first")
    await first.flush()
    for (let i = 0; i < 3; i++) add(s, 5)
    await first.persist(s.record)
    // No close: the process "died" here.
    const second = await Store.open({ dataDir, peerId: "second", checkpointMs: 60_000 })
    const { record } = await second.load("s1")
    expect(record.rev).toBe(s.record.rev)
    expect(record.state).toEqual({ total: 15, players: { ada: 15 } })
    expect(record.clients.c1?.seq).toBe(s.record.clients.c1?.seq)
    await second.close()
    await first.close()
  })
})
