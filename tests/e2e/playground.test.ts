import { afterAll, describe, expect, test } from "bun:test"
import { mkdirSync } from "node:fs"
import { resolve } from "node:path"
import { type Browser, chromium, type Page } from "playwright-core"
import { startNodeProcess, stopAllNodes } from "../support/node-process.ts"

const SHOTS = resolve(import.meta.dir, "../.artifacts")
const APP = resolve(import.meta.dir, "../fixtures/playground")
const ADMIN = "admin-token-for-the-playground"
let browser: Browser | undefined
afterAll(async () => {
  await browser?.close()
  await stopAllNodes()
})

const seat = (player: string) => `.seat[data-player="${player}"]`
/** What a player's panel shows of its view, parsed. */
const viewOf = async (page: Page, player: string) => JSON.parse((await page.textContent(`${seat(player)} .view`)) || "null")
/** The lines of a player's log (newest first). */
const logOf = (page: Page, player: string) => page.$$eval(`${seat(player)} .log li`, (lis) => lis.map((li) => [...li.children].map((c) => c.textContent).join(" ")))

async function act(page: Page, player: string, action: string, fill: Record<string, string>): Promise<void> {
  await page.selectOption(`${seat(player)} select.action`, action)
  for (const [name, value] of Object.entries(fill)) {
    const field = `${seat(player)} [name="${name}"]`
    if ((await page.$eval(field, (e) => e.tagName)) === "SELECT") await page.selectOption(field, { label: value })
    else await page.fill(field, value)
  }
  await page.click(`${seat(player)} button.send`)
}

describe("the playground in a real browser", () => {
  test("a game with no page: create a session, seat two players, act as each through the generated forms, see both views and a refusal", async () => {
    // Production-like: operators by the admin token, players authenticated by signed tokens.
    const node = await startNodeProcess({ app: APP, env: { BATON_OPERATOR_VIEWS: "", BATON_ADMIN_TOKEN: ADMIN, BATON_PLAYER_SECRET: "player-secret" } })
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] })
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const errors: string[] = []
    page.on("pageerror", (e) => errors.push(e.message))
    await page.goto(`${node.url}/playground#token=${ADMIN}`)
    await page.waitForFunction(() => document.querySelectorAll("#games .game").length === 5)
    expect(await page.textContent("#summary")).toContain("playground credentials")

    // nim: options from its schema (stones: optional, 3-30).
    await page.click('#games .game[data-game="nim"]')
    await page.waitForFunction(() => document.querySelector("#title")?.textContent === "nim")
    await page.check('#options [name="stones:include"]')
    await page.fill('#options [name="stones"]', "7")
    await page.click("#create button[type=submit]")
    await page.waitForSelector("#session:not([hidden])")

    // Two players: the name field suggests ada first.
    expect(await page.inputValue("#player-name")).toBe("ada")
    await page.click("#seat button[type=submit]")
    await page.waitForSelector(seat("playground:ada"))
    await page.fill("#player-name", "bob")
    await page.click("#seat button[type=submit]")
    const [ada, bob] = ["playground:ada", "playground:bob"]
    // A loaded CI machine bundles the page and starts Chromium beside other suites: wait longer than
    // Playwright's 30 s, and say what the page showed if a seat never opens (CI saw bob's stay shut once).
    for (const p of [ada, bob])
      await page.waitForSelector(`${seat(p)} .conn[data-status=open]`, { timeout: 90_000 }).catch(async (error) => {
        const shown = await page.evaluate(() => ({
          message: document.querySelector("#message")?.textContent,
          seats: [...document.querySelectorAll(".seat")].map((s) => `${(s as HTMLElement).dataset.player}: ${s.querySelector(".conn")?.getAttribute("data-status")} | ${s.textContent?.slice(-400)}`),
        }))
        throw new Error(`${(error as Error).message}\npage: ${JSON.stringify(shown)}`)
      })
    await page.waitForFunction(([s]) => document.querySelector(`${s} .view`)?.textContent?.includes("playground:bob"), [seat(ada)])
    expect(await viewOf(page, ada)).toEqual({ stones: 7, players: [ada, bob], turn: 0, taken: { [ada]: 0, [bob]: 0 } })

    // Each acts through the form built from take's input; both views follow.
    await act(page, ada, "take", { count: "2" })
    await page.waitForFunction(([a, b]) => [a, b].every((s) => JSON.parse(document.querySelector(`${s} .view`)?.textContent || "{}").stones === 5), [seat(ada), seat(bob)])
    await act(page, bob, "take", { count: "3" })
    await page.waitForFunction(([a, b]) => [a, b].every((s) => JSON.parse(document.querySelector(`${s} .view`)?.textContent || "{}").stones === 2), [seat(ada), seat(bob)])
    expect(await viewOf(page, bob)).toMatchObject({ turn: 2, taken: { [ada]: 2, [bob]: 3 } })
    // The answer goes to the actor; the event to both.
    expect((await logOf(page, bob)).join("\n")).toMatch(/ok #\d+ take → \{"left":2\}/)
    expect((await logOf(page, ada)).join("\n")).toContain(`took {"player":"${bob}","count":3,"left":2}`)

    // Refused by the game: bob out of turn. Shown in his panel; the state stays.
    await act(page, bob, "take", { count: "1" })
    await page.waitForFunction((s) => document.querySelector(`${s} .log li.error`)?.textContent?.includes("not_your_turn"), seat(bob))
    expect((await logOf(page, bob))[0]).toContain(`not_your_turn: it is ${ada}'s turn`)
    // Refused by the schema (valibot on the node): 4 is over take's maximum.
    await act(page, ada, "take", { count: "4" })
    await page.waitForFunction((s) => document.querySelector(`${s} .log li.error`)?.textContent?.includes("invalid_input"), seat(ada))
    // A picklist and an optional field: taunt's event reaches both.
    await act(page, ada, "taunt", { mood: "kind" })
    await page.waitForFunction((s) => document.querySelector(`${s} .log li.event`)?.textContent?.includes('taunt {"from":"playground:ada","mood":"kind"}'), seat(bob))
    expect((await viewOf(page, ada)).stones).toBe(2)

    mkdirSync(SHOTS, { recursive: true })
    await page.screenshot({ path: resolve(SHOTS, "playground-1280.png"), fullPage: true })
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280)

    // The last stones end the game; both panels say so.
    await act(page, ada, "take", { count: "2" })
    for (const p of [ada, bob]) await page.waitForFunction((s) => document.querySelector(`${s} .log li.ended`)?.textContent?.includes(`{"winner":"playground:ada"}`), seat(p))
    expect(errors).toEqual([])
  }, 180_000)

  test("every schema kind as a form: a value the node accepts; JSON checked before it is sent", async () => {
    const node = await startNodeProcess({ app: APP })
    browser ??= await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] })
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const errors: string[] = []
    page.on("pageerror", (e) => errors.push(e.message))
    await page.goto(`${node.url}/playground?game=kinds`)
    await page.waitForFunction(() => document.querySelector("#title")?.textContent === "kinds")
    expect(await page.textContent("#summary")).toContain("self-declared")
    await page.selectOption('#options [name="mode"]', { label: "slow" })
    await page.click("#create button[type=submit]")
    await page.waitForSelector("#session:not([hidden])")
    await page.click("#seat button[type=submit]")
    await page.waitForSelector(`${seat("ada")} .conn[data-status=open]`)

    // A Date has no JSON form: the field asks for JSON, checked before sending; the node says why it refuses a string.
    await act(page, "ada", "dated", { when: "{oops" })
    await page.waitForFunction((s) => document.querySelector(`${s} .form-error`)?.textContent?.includes("when: not JSON"), seat("ada"))
    expect(await logOf(page, "ada")).toHaveLength(1) // only "joined": nothing was sent
    await act(page, "ada", "dated", { when: '"2030-01-01"' })
    await page.waitForFunction((s) => document.querySelector(`${s} .log li.error`)?.textContent?.includes("Expected Date"), seat("ada"))

    await page.selectOption(`${seat("ada")} select.action`, "everything")
    await page.click(`${seat("ada")} [name="list:add"]`)
    await page.click(`${seat("ada")} [name="list:add"]`)
    await page.click(`${seat("ada")} [name="nested.tags:add"]`)
    await page.click(`${seat("ada")} [name="tree.children:add"]`)
    await page.selectOption(`${seat("ada")} [name="shape:option"]`, { label: 'kind: "square"' })
    await page.selectOption(`${seat("ada")} [name="either:option"]`, { label: "number" })
    await page.check(`${seat("ada")} [name="flag"]`)
    await page.check(`${seat("ada")} [name="maybe:include"]`)
    await page.check(`${seat("ada")} [name="orNull:null"]`)
    await page.check(`${seat("ada")} [name="pair.1"]`)
    await act(page, "ada", "everything", {
      text: "hello",
      count: "3",
      ratio: "0.5",
      pick: "paper",
      suit: "spades",
      either: "42",
      "shape.side": "2",
      "list.0": "4",
      "list.1": "5",
      "pair.0": "p",
      maybe: "here",
      "nested.x": "1",
      "nested.tags.0": "b",
      scores: '{"ada": 1}',
      "tree.label": "root",
      "tree.children.0.label": "leaf",
      trimmed: "  four ",
    })
    await page.waitForFunction((s) => document.querySelector(`${s} .log li.ok`), seat("ada"))
    await page.waitForFunction((s) => JSON.parse(document.querySelector(`${s} .view`)?.textContent || "{}").last, seat("ada"))
    const { last } = await viewOf(page, "ada")
    expect(last).toEqual({
      text: "hello",
      count: 3,
      ratio: 0.5,
      flag: true,
      pick: "paper",
      suit: "spades",
      exactly: "yes",
      either: 42,
      shape: { kind: "square", side: 2 },
      list: [4, 5],
      pair: ["p", true],
      maybe: "here",
      withDefault: 7,
      orNull: null,
      nested: { x: 1, tags: ["b"] },
      scores: { ada: 1 },
      tree: { label: "root", children: [{ label: "leaf", children: [] }] },
      trimmed: 4,
    })
    // A second player halves the panels' width.
    await page.click("#seat button[type=submit]")
    await page.waitForSelector(`${seat("bob")} .conn[data-status=open]`)
    await page.screenshot({ path: resolve(SHOTS, "playground-kinds-1280.png"), fullPage: true })
    // However deep the value nests, its controls stay inside the player's panel.
    const outside = await page.$$eval(`${seat("ada")} form.act *`, (els) => {
      const panel = (els[0]?.closest(".seat") as HTMLElement).getBoundingClientRect()
      return els.filter((e) => e.getBoundingClientRect().right > panel.right + 0.5).map((e) => `${e.tagName} ${e.getAttribute("name") ?? e.className}`)
    })
    expect(outside).toEqual([])
    expect(errors).toEqual([])
  }, 120_000)
})
