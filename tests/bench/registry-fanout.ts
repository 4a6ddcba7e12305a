/**
 * What creating sessions costs the registry's sync as the cluster grows, on
 * the simulator: N nodes, S sessions created at once through random nodes,
 * then the registry sync messages every node received (count and bytes per
 * session created) and the CPU the burst took. Past eight nodes the registry
 * travels over a sparse mesh (framework/cluster/mesh.ts); to see it against
 * the complete mesh, run the same command in a checkout from before it
 * (9b8240e).
 *
 *   bun tests/bench/registry-fanout.ts [nodes] [sessions]   (default 20 150)
 */
import { ledgerGame } from "../../framework/sim/game.ts"
import { Scheduler } from "../../framework/sim/scheduler.ts"
import { World } from "../../framework/sim/world.ts"

const nodes = Number(process.argv[2] ?? 20)
const sessions = Number(process.argv[3] ?? 150)
const sched = new Scheduler("registry-fanout")
const undo = sched.install()
const world = new World(sched, sched.random.fork("w"), { heartbeatMs: 500, failureMs: 3_000, replicas: 2, secret: "bench-secret-0123456789abcdef" }, () => [ledgerGame(1)])
const labels = Array.from({ length: nodes }, (_, i) => `n${i + 1}`)
for (const l of labels) world.start(l, 1, labels.slice(0, 3))
await sched.run(sched.now + 5_000)

const registry = { messages: 0, bytes: 0 }
for (const p of world.live()) {
  const store = p.node?.store
  const id = store?.registryHandle.documentId
  store?.repo.networkSubsystem.on("message", (m) => {
    if (m.type !== "sync" || m.documentId !== id) return
    registry.messages++
    registry.bytes += m.data.byteLength
  })
}
const cpu0 = process.cpuUsage()
for (let i = 0; i < sessions; i++) world.createSession()
await sched.run(sched.now + 2_000)
const cpu = process.cpuUsage(cpu0)
undo()
const made = world.sessions.length
console.log(
  JSON.stringify({
    nodes,
    sessions: made,
    registryMessagesPerSession: +(registry.messages / made).toFixed(1),
    registryKBPerSession: +(registry.bytes / made / 1024).toFixed(1),
    cpuMsPerSession: Math.round((cpu.user + cpu.system) / 1000 / made),
  }),
)
process.exit(0)
