import { afterAll, describe, expect, test } from "bun:test"
import { existsSync, mkdirSync } from "node:fs"
import { resolve } from "node:path"
import { createSession } from "batonjs/client"
import { type Browser, chromium } from "playwright-core"
import { TestCluster } from "../support/cluster.ts"
import { waitUntil } from "../support/wait.ts"

const SHOTS = resolve(import.meta.dir, "../.artifacts")
let c: TestCluster | undefined
let browser: Browser | undefined
afterAll(async () => {
  await browser?.close()
  await c?.stopAll()
})

describe("the dashboard in a real browser", () => {
  test("shows the members and sessions, and a handoff appears on its timeline while it happens", async () => {
    c = await TestCluster.start(3)
    const cluster = c
    const ids = await Promise.all(cluster.nodes.map((n) => cluster.idOf(n)))
    const sessions: string[] = []
    for (let i = 0; i < 6; i++) sessions.push((await createSession({ url: cluster.nodes[i % 3]!.url, game: "counter" })).id)

    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    })
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const errors: string[] = []
    page.on("pageerror", (e) => errors.push(e.message))
    await page.goto(`${cluster.nodes[0]!.url}/dashboard`)
    await page.waitForFunction(() => document.querySelectorAll("#members tbody tr").length === 3)
    await page.waitForFunction((n) => document.querySelectorAll("#sessions tbody tr").length >= n, sessions.length)

    // Drain the node that owns the most sessions, as a rolling restart would. Placement is by hash: should
    // every session so far sit on the node serving the page (a CI run saw it), more are made, a bounded few.
    const ownersShown = async () => {
      await page.waitForFunction((known) => [...document.querySelectorAll("#sessions tbody tr .owner")].every((td) => known.includes(td.textContent ?? "")), ids)
      return page.$$eval("#sessions tbody tr .owner", (tds) => tds.map((td) => td.textContent ?? ""))
    }
    let owners = await ownersShown()
    for (let i = 0; i < 24 && owners.every((o) => o === ids[0]); i++) {
      sessions.push((await createSession({ url: cluster.nodes[i % 3]!.url, game: "counter" })).id)
      await page.waitForFunction((n) => document.querySelectorAll("#sessions tbody tr").length >= n, sessions.length)
      owners = await ownersShown()
    }
    const victimId = ids.filter((id) => id !== ids[0]).sort((a, b) => owners.filter((o) => o === b).length - owners.filter((o) => o === a).length)[0]!
    const victim = cluster.nodes[ids.indexOf(victimId)]!
    const moving = owners.filter((o) => o === victimId).length
    expect(moving).toBeGreaterThan(0)
    await victim.stop()

    // The timeline (updated live, once a second) shows the handoffs and the member going down.
    await page.waitForFunction((id) => [...document.querySelectorAll("#timeline li")].some((li) => li.textContent?.includes("session adopted") && li.textContent.includes(`handoff from ${id}`)), victimId, { timeout: 15_000 })
    await page.waitForFunction((id) => [...document.querySelectorAll("#timeline li")].some((li) => li.textContent?.includes("node-down") && li.textContent.includes(id)), victimId, { timeout: 15_000 })
    await waitUntil(async () => !(await page.$$eval("#sessions tbody tr .owner", (tds) => tds.map((td) => td.textContent))).includes(victimId), "no session shows the stopped node as owner")
    mkdirSync(SHOTS, { recursive: true })
    await page.screenshot({ path: resolve(SHOTS, "dashboard.png"), fullPage: true })
    expect(existsSync(resolve(SHOTS, "dashboard.png"))).toBe(true)
    // Every table fits its panel at the widths laptops have (they ran past their panels).
    for (const width of [1024, 1280]) {
      await page.setViewportSize({ width, height: 900 })
      const overflow = await page.$$eval("section:not([hidden]) table", (tables) =>
        tables.map((t) => ({ id: t.id, over: t.scrollWidth - ((t.closest("section") as HTMLElement).clientWidth - 16) })).filter((t) => t.over > 0),
      )
      expect({ width, overflow }).toEqual({ width, overflow: [] })
      await page.screenshot({ path: resolve(SHOTS, `dashboard-${width}.png`), fullPage: true })
    }
    expect(errors).toEqual([])
  }, 90_000)
})
