/**
 * A rolling deploy from an older checkout of Baton to this one, with players
 * acting throughout: two old nodes with 20 sessions, a new node joins (and
 * creates 10 more), each old node is replaced by a new one. Checks that every
 * node lists every session with the same owner, and that every player sees
 * every action it was told succeeded. Not part of `bun test` (it needs a
 * second checkout with its dependencies installed):
 *
 *   git worktree add /tmp/baton-old <older commit> && (cd /tmp/baton-old && bun install --frozen-lockfile)
 *   bun tests/deploy/upgrade-check.ts /tmp/baton-old
 */
import { resolve } from "node:path"
import { type GameSession, createSession, join } from "batonjs/client"
import type counter from "../../app/games/counter.ts"
import { freePort } from "../support/node-process.ts"
import { waitUntil } from "../support/wait.ts"

const NEW = resolve(import.meta.dir, "../..")
const OLD = process.argv[2] ? resolve(process.argv[2]) : undefined

interface Node {
  name: string
  url: string
  proc: ReturnType<typeof Bun.spawn>
}

const urls: string[] = []
const nodes: Node[] = []

async function start(name: string, root: string): Promise<Node> {
  const port = freePort()
  const url = `http://127.0.0.1:${port}`
  urls.push(url)
  const proc = Bun.spawn(["bun", `${root}/framework/cli/main.ts`, "start", `${root}/tests/fixtures/app`], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      BATON_LOG: "json",
      BATON_MAX_LIFETIME_MS: "120000",
      BATON_CLUSTER_SECRET: "upgrade-check-secret",
      BATON_PEERS: urls.join(","),
      BATON_HEARTBEAT_MS: "200",
      BATON_FAILURE_MS: "3000",
      // The check lists every node's sessions: open the operators' views (closed by default since the hardening issue).
      BATON_OPERATOR_VIEWS: "open",
      BATON_CREATES_PER_MINUTE: "0",
    },
    stdout: "ignore",
    stderr: "ignore",
  })
  const node = { name, url, proc }
  nodes.push(node)
  await waitUntil(async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.ok === true, `${name} ready`, { timeoutMs: 20_000 })
  console.log(`${name} up (${root})`)
  return node
}

async function stop(node: Node): Promise<void> {
  node.proc.kill("SIGTERM")
  console.log(`${node.name} stopped (exit ${await node.proc.exited})`)
}

/** Session → owner, as this node's registry copy has it. */
async function owners(node: Node): Promise<Map<string, string>> {
  const body = (await (await fetch(`${node.url}/cluster/registry`)).json()) as { sessions: { id: string; owner: string }[] }
  return new Map(body.sessions.map((s) => [s.id, s.owner]))
}

async function main(old: string): Promise<boolean> {
  const o1 = await start("old-1", old)
  const o2 = await start("old-2", old)
  const ids: string[] = []
  for (let i = 0; i < 20; i++) ids.push((await createSession({ url: (i % 2 ? o1 : o2).url, game: "counter" })).id)
  // Players connect to the node that does not own their session half the time (relayed).
  // An action unanswered for 30 s fails the check, naming its session, instead of hanging it.
  const players: GameSession<typeof counter>[] = await Promise.all(ids.map((id, i) => join<typeof counter>({ url: (i % 2 ? o2 : o1).url, session: id, player: "p", actTimeoutMs: 30_000 })))
  // Each player's connection status over time, for the report of an unanswered action.
  const t0 = Date.now()
  const history = new Map(players.map((p) => [p, [] as string[]]))
  for (const p of players) p.onStatus((status) => history.get(p)?.push(`${Date.now() - t0} ms ${status}`))
  let rounds = 0
  const unanswered: string[] = []
  const act = async (when: string) => {
    await Promise.all(
      players.map((p) =>
        p.act("inc", { by: 1 }).catch((e: unknown) => {
          unanswered.push(`${when}: ${p.id} ${(e as Error).message} (status ${p.status}, notice ${p.notice?.code ?? "none"}, ${history.get(p)?.slice(-6).join(", ")} of ${Date.now() - t0} ms)`)
        }),
      ),
    )
    rounds++
  }
  await act("old nodes")
  const n1 = await start("new-1", NEW)
  for (let i = 0; i < 10; i++) ids.push((await createSession({ url: n1.url, game: "counter" })).id)
  await waitUntil(
    async () => (await Promise.all([o1, o2, n1].map(owners))).every((m) => ids.every((id) => m.has(id))),
    "every node, old and new, lists every session",
    { timeoutMs: 20_000 },
  )
  console.log(`old and new nodes list all ${ids.length} sessions`)
  await act("old and new")
  await stop(o1)
  await act("after old-1 stopped")
  const n2 = await start("new-2", NEW)
  await stop(o2)
  await act("after old-2 stopped")
  if (unanswered.length) console.log(`unanswered actions: ${unanswered.join("; ")}`)
  // The registry copies converge by sync: give them the time a handoff's writes take to travel.
  let differ: string[] = []
  const agree = await waitUntil(
    async () => {
      const [a, b] = await Promise.all([owners(n1), owners(n2)])
      differ = ids.filter((id) => a.get(id) === undefined || a.get(id) !== b.get(id)).map((id) => `${id}: ${a.get(id)} / ${b.get(id)}`)
      return differ.length === 0
    },
    "the new nodes agree on every session's owner",
    { timeoutMs: 10_000 },
  )
    .then(() => true)
    .catch(() => false)
  console.log(`after the roll: owners agree on the new nodes: ${agree}${agree ? "" : ` (${differ.join(", ")})`}`)
  const seen = await waitUntil(() => players.every((p) => p.state?.players.p?.count === rounds), "every player sees every acknowledged action", { timeoutMs: 10_000 })
    .then(() => true)
    .catch(() => false)
  console.log(`${rounds} acknowledged actions per player, all seen: ${seen}`)
  for (const p of players) p.close()
  return agree && seen && unanswered.length === 0
}

if (import.meta.main) {
  if (!OLD) {
    console.error("usage: bun tests/deploy/upgrade-check.ts <path to an older checkout, dependencies installed>")
    process.exit(2)
  }
  let ok = false
  try {
    ok = await main(OLD)
  } catch (error) {
    console.error(`upgrade check failed: ${(error as Error).message}`)
  } finally {
    for (const n of nodes) n.proc.kill("SIGKILL")
  }
  console.log(ok ? "upgrade check passed" : "upgrade check FAILED")
  process.exit(ok ? 0 : 1)
}
