import { afterAll, describe, expect, test } from "bun:test"
import { mkdirSync, readFileSync } from "node:fs"
import { resolve } from "node:path"
import { createSession, join } from "batonjs/client"
import { type Browser, chromium } from "playwright-core"
import { type ReplayFile, Session } from "../../framework/game/index.ts"
import notes from "../fixtures/app/notes.ts"
import { TestCluster } from "../support/cluster.ts"
import { waitUntil } from "../support/wait.ts"

const SHOTS = resolve(import.meta.dir, "../.artifacts")
let c: TestCluster | undefined
let browser: Browser | undefined
afterAll(async () => {
  await browser?.close()
  await c?.stopAll()
})

const text = (page: import("playwright-core").Page, sel: string) => page.$eval(sel, (e) => e.textContent ?? "")

describe("the session inspector in a real browser", () => {
  test("opens a session from the list on a node that does not run it, shows what each player sees, scrubs back with the diff, downloads the export", async () => {
    c = await TestCluster.start(2, { BATON_CHECKPOINT_MS: "50" })
    const [a, b] = c.nodes as [NonNullable<TestCluster["nodes"][0]>, NonNullable<TestCluster["nodes"][0]>]
    const { id } = await createSession({ url: a.url, game: "notes" })
    // Waits until the session's newest record is in its document: the steps after start a new checkpoint.
    const checkpointed = () =>
      waitUntil(async () => {
        const v = (await (await fetch(`${a.url}/sessions/${id}/inspect`)).json()) as { history: { checkpoints: { live?: true }[] } }
        return v.history.checkpoints.every((cp) => !cp.live)
      }, "the newest record is checkpointed")
    const ada = await join<typeof notes>({ url: a.url, session: id, player: "ada" })
    const bob = await join<typeof notes>({ url: a.url, session: id, player: "bob" })
    await ada.act("add", { text: "first note" })
    await checkpointed()
    await bob.act("secret", { value: "bob-secret" })
    await ada.act("secret", { value: "ada-secret" })
    await ada.act("roll", {})
    await bob.act("remind", { ms: 600_000, text: "much later" })
    await checkpointed()
    await ada.act("add", { text: "second note" })
    await checkpointed()
    const { sessions } = (await (await fetch(`${a.url}/cluster/registry`)).json()) as { sessions: { id: string; owner: string }[] }
    const owner = sessions.find((s) => s.id === id)?.owner
    const other = owner === a.id ? b : a

    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    })
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true })
    const errors: string[] = []
    page.on("pageerror", (e) => errors.push(e.message))
    await page.goto(`${other.url}/dashboard`)
    await page.waitForSelector(`#sessions tr[data-session="${id}"] a.inspect`)
    await page.click(`#sessions tr[data-session="${id}"] a.inspect`)
    await page.waitForFunction(() => document.querySelector("#i-source")?.textContent?.includes("relayed by"))
    expect(await text(page, "#i-source")).toContain(`relayed by ${other.id} to ${owner}, which runs it`)
    expect(page.url()).toContain(`session=${id}`)

    // Players, pending timers, the latest steps.
    expect(await page.$$eval("#i-players tbody tr", (rows) => rows.map((r) => r.children[1]?.textContent))).toEqual(["ada", "bob"])
    expect(await text(page, "#i-timers tbody")).toContain("reminder")
    expect(await text(page, "#i-timers tbody")).toContain('"much later"')
    const ledger = await page.$$eval("#i-ledger tbody tr", (rows) => rows.map((r) => [...r.children].map((td) => td.textContent)))
    expect(ledger[0]?.slice(1, 5)).toEqual(["ada", "act add", '{"text":"second note"}', "ok 2"])
    expect(ledger.map((r) => r[2])).toContain("act roll")

    // What one player sees: the game's view, her own secret only.
    await page.selectOption("#i-as", "ada")
    const asAda = await text(page, "#i-state")
    expect(asAda).toContain('"mine": "ada-secret"')
    expect(asAda).not.toContain("bob-secret")
    await page.selectOption("#i-as", "")
    expect(await text(page, "#i-state")).toContain('"bob": "bob-secret"')
    mkdirSync(SHOTS, { recursive: true })
    await page.screenshot({ path: resolve(SHOTS, "inspector-1280.png"), fullPage: true })

    // Scrub back to the checkpoint before "second note" was added: its state, and the change that checkpoint made.
    const positions = Number(await page.$eval("#i-scrub", (e) => (e as HTMLInputElement).max))
    expect(positions).toBeGreaterThanOrEqual(2)
    for (let i = positions; i > 0; i--) {
      await page.click("#i-prev")
      if (!(await text(page, "#i-state")).includes("second note")) break
    }
    expect(await text(page, "#i-state")).toContain("first note")
    expect(await text(page, "#i-pos")).toMatch(/checkpoint \d+ of \d+/)
    expect(await text(page, "#i-timers tbody")).toContain("reminder")
    // One further back, before the reminder was set: the timers as they were then.
    await page.click("#i-prev")
    expect(await text(page, "#i-timers tbody")).toBe("no pending timer")
    await page.click("#i-next")
    await page.click("#i-next")
    const diff = await page.$$eval("#i-diff li", (lis) => lis.map((li) => `${li.className} ${li.textContent}`))
    expect(diff).toContainEqual(expect.stringMatching(/^added state\.notes\[1\] added \{"by":"ada","text":"second note"\}/))
    expect(await text(page, "#i-steps")).toContain("act add")
    await page.click("#i-prev")
    await page.screenshot({ path: resolve(SHOTS, "inspector-scrubbed-1280.png"), fullPage: true })

    // Every table fits the inspector's panel at the widths laptops have (the state scrolls in its own box).
    for (const width of [1024, 1280]) {
      await page.setViewportSize({ width, height: 900 })
      const overflow = await page.$$eval("#inspector table", (els) =>
        els
          .map((t) => {
            const box = t.parentElement as HTMLElement
            const style = getComputedStyle(box)
            return { id: t.id, over: t.scrollWidth - (box.clientWidth - Number.parseFloat(style.paddingLeft) - Number.parseFloat(style.paddingRight)) }
          })
          .filter((t) => t.over > 0),
      )
      expect({ width, overflow }).toEqual({ width, overflow: [] })
    }

    // The export: a file download that Session.replay loads, and replays to the live state.
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#i-export")])
    expect(download.suggestedFilename()).toMatch(new RegExp(`^baton-notes-${id}-rev\\d+\\.json$`))
    const file = JSON.parse(readFileSync(await download.path(), "utf8")) as ReplayFile
    const replayed = Session.replay(notes, file, { check: true })
    expect(replayed.record).toEqual(file.end)
    expect(replayed.record.state.notes.map((n) => n.text)).toEqual(["first note", "second note"])
    await waitUntil(async () => (await text(page, "#i-export-status")).includes("Session.replay"), "the page says where the file went")

    // Back to live: following the newest record again.
    await page.click("#i-live")
    await page.waitForFunction(() => document.querySelector("#i-pos")?.textContent?.includes("newest"))
    await page.click("#i-close")
    expect(await page.$eval("#inspector", (e) => (e as HTMLElement).hidden)).toBe(true)
    expect(errors).toEqual([])
    ada.close()
    bob.close()
  }, 120_000)
})
