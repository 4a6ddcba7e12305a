/**
 * The templates' pages in a real browser (Debian's chromium through
 * playwright-core): two players, each in a browser context of their own,
 * play each template's game against a real node serving the template.
 */
import { afterAll, describe, expect, test } from "bun:test"
import { existsSync, mkdirSync } from "node:fs"
import { resolve } from "node:path"
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core"
import { type NodeProcess, startNodeProcess } from "../support/node-process.ts"
import { waitUntil } from "../support/wait.ts"

const ROOT = resolve(import.meta.dir, "../..")
const SHOTS = resolve(ROOT, "tests/.artifacts")
const CHROMIUM = "/usr/bin/chromium"

let browser: Browser | undefined
const nodes: NodeProcess[] = []
afterAll(async () => {
  await browser?.close()
  await Promise.all(nodes.map((n) => n.kill()))
})

interface Player {
  page: Page
  errors: string[]
}

async function players(): Promise<[Player, Player]> {
  browser ??= await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] })
  const open = async (): Promise<Player> => {
    const ctx: BrowserContext = await browser!.newContext({ viewport: { width: 1100, height: 800 } })
    const page = await ctx.newPage()
    const errors: string[] = []
    page.on("pageerror", (e) => errors.push(e.message))
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()))
    return { page, errors }
  }
  return [await open(), await open()]
}

async function serve(template: string): Promise<string> {
  const node = await startNodeProcess({ app: resolve(ROOT, "templates", template), lifetimeMs: 60_000 })
  nodes.push(node)
  return node.url
}

const shot = async (page: Page, name: string) => {
  mkdirSync(SHOTS, { recursive: true })
  await page.screenshot({ path: resolve(SHOTS, name), fullPage: true })
}

/**
 * ada starts a game on the template's front page and waits on its game page
 * (`gamePage`); bob sees the waiting game in the front page's list and joins
 * it; ada's turn comes.
 */
async function startAndJoin(template: string, gamePage: RegExp): Promise<[Player, Player]> {
  const url = await serve(template)
  const [ada, bob] = await players()
  await ada.page.goto(url)
  await ada.page.fill("#name", "ada")
  await ada.page.click("#new")
  await ada.page.waitForURL(gamePage)
  const session = new URL(ada.page.url()).searchParams.get("session")
  await ada.page.waitForFunction(() => document.querySelector("#message")?.textContent?.includes("Waiting for an opponent"))
  await bob.page.goto(url)
  await bob.page.fill("#name", "bob")
  await bob.page.click(`#open li:has-text("${session}") button`)
  await bob.page.waitForURL(gamePage)
  await ada.page.waitForFunction(() => document.querySelector("#message")?.textContent?.startsWith("Your turn"))
  return [ada, bob]
}

describe.skipIf(!existsSync(CHROMIUM))("template pages in a browser", () => {
  test("turn-based: start a game, a second player joins by its link, and fire", async () => {
    const [ada, bob] = await startAndJoin("turn-based", /\/salvo\?/)
    expect(await ada.page.$$eval('#mine .cell[data-cell="ship"]', (c) => c.length)).toBe(7)
    expect(await ada.page.$$eval('#theirs .cell[data-cell="ship"]', (c) => c.length)).toBe(0)
    await ada.page.click("#theirs .cell:nth-child(15)")
    await bob.page.waitForFunction(() => document.querySelector('#mine .cell:nth-child(15)')?.getAttribute("data-cell")?.match(/hit|miss/))
    await shot(ada.page, "template-turn-based.png")
    expect([...ada.errors, ...bob.errors]).toEqual([])
  }, 90_000)

  test("realtime: two players on the canvas, a serve and a paddle that moves", async () => {
    const url = await serve("realtime")
    const [ada, bob] = await players()
    await ada.page.goto(url)
    await ada.page.fill("#name", "ada")
    await ada.page.click("#new")
    await ada.page.waitForURL(/\/pong\?/)
    // bob follows the invite link ada's page shows, with no name saved yet: he picks one, then joins that game.
    // The page writes the link once it has joined, after the URL changed: read it then.
    await ada.page.waitForFunction(() => document.querySelector("#share")?.textContent?.includes("http"))
    const share = (await ada.page.textContent("#share")) ?? ""
    const link = share.slice(share.indexOf("http"))
    expect(new URL(link).searchParams.get("session")).toBe(new URL(ada.page.url()).searchParams.get("session"))
    await bob.page.goto(link)
    await bob.page.waitForURL(/\/\?invite=/)
    await bob.page.fill("#name", "bob")
    await bob.page.click("#join-invite")
    await bob.page.waitForURL(/\/pong\?/)
    await ada.page.waitForFunction(() => document.querySelector("#message")?.textContent?.startsWith("Rally"), undefined, { timeout: 10_000 })
    // Hold the up key: ada's paddle (left, drawn green) goes up on the canvas.
    const paddleY = () =>
      ada.page.evaluate(() => {
        const c = document.querySelector("canvas") as HTMLCanvasElement
        const k = c.width / 800
        const column = (c.getContext("2d") as CanvasRenderingContext2D).getImageData(Math.round(30 * k), 0, 1, c.height).data
        const rows: number[] = []
        for (let y = 0; y < c.height; y++) if (column[y * 4] === 105 && column[y * 4 + 1] === 219 && column[y * 4 + 2] === 124) rows.push(y / k)
        return rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : null
      })
    const before = await paddleY()
    expect(before).toBeCloseTo(250, -1)
    await ada.page.keyboard.down("ArrowUp")
    await waitUntil(async () => ((await paddleY()) ?? 1e9) < (before as number) - 50, "ada's paddle goes up on her canvas")
    await ada.page.keyboard.up("ArrowUp")
    await shot(ada.page, "template-realtime.png")
    expect([...ada.errors, ...bob.errors]).toEqual([])
  }, 90_000)

  test("lobby: two players queue, are matched, and play the duel the lobby spawned", async () => {
    const url = await serve("lobby")
    const [ada, bob] = await players()
    for (const [p, name] of [
      [ada, "ada"],
      [bob, "bob"],
    ] as const) {
      await p.page.goto(url)
      await p.page.fill("#name", name)
      await p.page.click('#enter-form button[type="submit"]')
      await p.page.waitForSelector("#lobby:not([hidden])")
    }
    await ada.page.click("#queue")
    await ada.page.waitForFunction(() => document.querySelector("#lobby-status")?.textContent?.includes("Looking for an opponent"))
    await bob.page.click("#queue")
    for (const p of [ada, bob]) await p.page.waitForSelector("#duel:not([hidden])")
    for (let round = 1; round <= 2; round++) {
      // A click lands before the page has heard of the last round's end otherwise (a loaded machine).
      for (const p of [ada, bob]) await p.page.waitForFunction((r) => document.querySelector("#duel-status")?.textContent?.startsWith(`Round ${r}: choose!`), round)
      await ada.page.click('button[data-hand="rock"]:enabled')
      await bob.page.click('button[data-hand="scissors"]:enabled')
    }
    await ada.page.waitForFunction(() => document.querySelector("#duel-status")?.textContent === "You win the duel!")
    await bob.page.waitForFunction(() => document.querySelector("#duel-status")?.textContent === "ada wins the duel")
    expect(await ada.page.textContent("#rounds")).toContain("you win the round")
    // The hands are drawn in SVG: no emoji font needed (without one, emoji were empty boxes).
    expect(await ada.page.$$eval("#hands button svg.hand-icon", (icons) => icons.length)).toBe(3)
    await shot(ada.page, "template-lobby.png")
    // Play again: back in the queue, the duel panel goes away.
    await ada.page.click("#again")
    await ada.page.waitForSelector("#duel", { state: "hidden" })
    expect([...ada.errors, ...bob.errors]).toEqual([])
  }, 90_000)

  test("react: a React page on useSession; two players play to the end, and the winning line shows", async () => {
    const [ada, bob] = await startAndJoin("react", /\/play\?/)
    expect(await ada.page.textContent("#conn")).toBe("connected")
    // Not bob's turn: his columns are disabled.
    expect(await bob.page.$$eval("#board button.column:enabled", (b) => b.length)).toBe(0)
    const disc = (page: Page, cell: number) => page.getAttribute(`#board .cell[data-cell="${cell}"]`, "data-disc")
    // ada drops in column 4 (its bottom cell is 5 * 7 + 3 = 38); bob sees it, then drops on top of it.
    await ada.page.click('#board button.column[data-column="3"]')
    await bob.page.waitForFunction(() => document.querySelector('#board .cell[data-cell="38"]')?.getAttribute("data-disc") === "red")
    await bob.page.waitForFunction(() => document.querySelector("#message")?.textContent?.startsWith("Your turn"))
    await bob.page.click('#board button.column[data-column="3"]')
    await ada.page.waitForFunction(() => document.querySelector('#board .cell[data-cell="31"]')?.getAttribute("data-disc") === "yellow")
    expect(await disc(ada.page, 38)).toBe("red")
    expect(await ada.page.textContent("#log")).toContain("bob dropped a disc in column 4")
    // Three more each: ada's four across the bottom win, on both pages.
    for (const [a, b] of [
      [0, 0],
      [1, 1],
    ]) {
      await ada.page.waitForFunction(() => document.querySelector("#message")?.textContent?.startsWith("Your turn"))
      await ada.page.click(`#board button.column[data-column="${a}"]`)
      await bob.page.waitForFunction(() => document.querySelector("#message")?.textContent?.startsWith("Your turn"))
      await bob.page.click(`#board button.column[data-column="${b}"]`)
    }
    await ada.page.waitForFunction(() => document.querySelector("#message")?.textContent?.startsWith("Your turn"))
    await ada.page.click('#board button.column[data-column="2"]')
    await ada.page.waitForFunction(() => document.querySelector("#message")?.textContent === "You win: four in a row!")
    await bob.page.waitForFunction(() => document.querySelector("#message")?.textContent === "ada wins")
    expect(await ada.page.$$eval("#board .cell.won", (cells) => cells.map((c) => c.getAttribute("data-cell")))).toEqual(["35", "36", "37", "38"])
    await shot(ada.page, "template-react.png")
    expect([...ada.errors, ...bob.errors]).toEqual([])
  }, 90_000)
})
