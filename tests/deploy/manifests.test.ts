/**
 * The deployment files of the example app and of every template, checked
 * statically (no Docker engine or Kubernetes cluster here): the manifests
 * parse, and the fields a rolling deploy without lost sessions depends on
 * are present and agree with each other and with what the node reads.
 */
import { afterAll, describe, expect, test } from "bun:test"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { parseAllDocuments } from "yaml"
import { createProject, listTemplates } from "../../framework/cli/new.ts"

const ROOT = resolve(import.meta.dir, "../..")
const BUN_VERSION = "1.4.5"
/** The drain grace when BATON_GRACE_MS is not set (framework/node). */
const DEFAULT_GRACE_MS = 25_000

// biome-ignore lint: manifests are untyped YAML
type Obj = Record<string, any>

/** Every BATON_* variable a node reads, from the code that reads them. */
function variablesTheNodeReads(): Set<string> {
  const files = ["framework/cli/node-env.ts", "framework/cluster/discovery.ts", "framework/cli/commands.ts"]
  const names = new Set<string>()
  for (const f of files) for (const m of readFileSync(join(ROOT, f), "utf8").matchAll(/\bBATON_[A-Z0-9_]+\b/g)) names.add(m[0])
  return names
}

interface Manifests {
  docs: Obj[]
  /** The raw text of each file, for the comments (the secret to create). */
  text: string
  problems: string[]
}

function load(dir: string): Manifests {
  const out: Manifests = { docs: [], text: "", problems: [] }
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))
  if (files.length === 0) out.problems.push(`${dir}: no YAML files`)
  for (const f of files) {
    const text = readFileSync(join(dir, f), "utf8")
    out.text += text
    for (const doc of parseAllDocuments(text)) {
      for (const e of doc.errors) out.problems.push(`${f}: ${e.message}`)
      const value = doc.toJS() as Obj | null
      if (!value) continue
      if (!value.apiVersion || !value.kind || !value.metadata?.name) out.problems.push(`${f}: a document without apiVersion, kind or metadata.name`)
      out.docs.push(value)
    }
  }
  return out
}

const selects = (selector: Obj | undefined, labels: Obj | undefined) =>
  !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, val]) => labels?.[k] === val)

/** Every problem with one set of manifests (an app's k8s/ folder); empty when all is well. */
function checkManifests(dir: string, known = variablesTheNodeReads()): string[] {
  const { docs, text, problems } = load(dir)
  const deployments = docs.filter((d) => d.kind === "Deployment")
  if (deployments.length !== 1) return [...problems, `expected one Deployment, found ${deployments.length}`]
  const dep = deployments[0] as Obj
  const spec = dep.spec ?? {}
  const pod = spec.template?.spec ?? {}
  const podLabels = spec.template?.metadata?.labels
  const containers = (pod.containers ?? []) as Obj[]
  const c = containers[0]
  if (!c) return [...problems, "the Deployment has no container"]

  // Rolling update that keeps capacity.
  if (spec.strategy?.type !== "RollingUpdate") problems.push(`strategy.type is ${spec.strategy?.type}, not RollingUpdate`)
  if (spec.strategy?.rollingUpdate?.maxSurge !== 1) problems.push(`maxSurge is ${spec.strategy?.rollingUpdate?.maxSurge}, not 1`)
  if (spec.strategy?.rollingUpdate?.maxUnavailable !== 0) problems.push(`maxUnavailable is ${spec.strategy?.rollingUpdate?.maxUnavailable}, not 0`)
  if (!selects(spec.selector?.matchLabels, podLabels)) problems.push("the Deployment's selector does not select its own pods")

  // The environment: plain values, references to earlier variables, and where the rest comes from.
  const envList = (c.env ?? []) as Obj[]
  const env = new Map<string, Obj>(envList.map((e) => [e.name as string, e]))
  envList.forEach((e, i) => {
    for (const ref of String(e.value ?? "").matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
      const at = envList.findIndex((x) => x.name === ref[1])
      if (at < 0 || at >= i) problems.push(`${e.name} refers to $(${ref[1]}), which is not set before it`)
    }
  })
  const value = (name: string) => env.get(name)?.value as string | undefined
  const fieldRef = (name: string) => env.get(name)?.valueFrom?.fieldRef?.fieldPath as string | undefined

  const port = Number(value("PORT") ?? 3000)
  const ports = (c.ports ?? []) as Obj[]
  const resolvePort = (p: unknown) => (typeof p === "number" ? p : ports.find((x) => x.name === p)?.containerPort)
  if (!ports.some((p) => p.containerPort === port)) problems.push(`no containerPort ${port} (PORT)`)

  // Probes on the node's own endpoints, on its port.
  const probe = (kind: string, path: string) => {
    const get = c[kind]?.httpGet
    if (!get) return problems.push(`no ${kind}`)
    if (get.path !== path) problems.push(`${kind} path is ${get.path}, not ${path}`)
    if (resolvePort(get.port) !== port) problems.push(`${kind} port ${get.port} is not the container port ${port}`)
  }
  probe("readinessProbe", "/readyz")
  probe("livenessProbe", "/healthz")

  // A drain must finish before Kubernetes kills the pod.
  const graceMs = Number(value("BATON_GRACE_MS") ?? DEFAULT_GRACE_MS)
  const termination = pod.terminationGracePeriodSeconds
  if (!(typeof termination === "number" && termination > graceMs / 1000))
    problems.push(`terminationGracePeriodSeconds ${termination} is not longer than BATON_GRACE_MS (${graceMs / 1000} s)`)

  // The cluster secret from a Secret, documented.
  const secretRef = env.get("BATON_CLUSTER_SECRET")?.valueFrom?.secretKeyRef
  if (!secretRef?.name || !secretRef?.key) problems.push("BATON_CLUSTER_SECRET does not come from a secretKeyRef")
  else if (!docs.some((d) => d.kind === "Secret" && d.metadata.name === secretRef.name) && !text.includes(`kubectl create secret generic ${secretRef.name}`))
    problems.push(`the Secret ${secretRef.name} is neither in the manifests nor explained (kubectl create secret generic ${secretRef.name} ...)`)
  if (value("BATON_CLUSTER_SECRET")) problems.push("BATON_CLUSTER_SECRET is written in the manifest")

  // How peers reach this pod: its IP, from the downward API.
  const advertise = value("BATON_ADVERTISE_URL")
  if (fieldRef("POD_IP") !== "status.podIP") problems.push("POD_IP does not come from status.podIP")
  if (advertise !== `http://$(POD_IP):${port}`) problems.push(`BATON_ADVERTISE_URL is ${advertise}, not http://$(POD_IP):${port}`)
  if (!value("BATON_APP_VERSION")) problems.push("BATON_APP_VERSION is not set")

  // Discovery through the headless service that selects these pods.
  const services = docs.filter((d) => d.kind === "Service")
  const headless = services.filter((s) => s.spec?.clusterIP === "None")
  const discovery = value("BATON_DISCOVERY") ?? ""
  const m = /^dns:([a-z0-9-]+)\.([^.]+)\.svc\.cluster\.local:(\d+)$/.exec(discovery)
  if (!m) problems.push(`BATON_DISCOVERY is "${discovery}", not dns:<headless service>.<namespace>.svc.cluster.local:<port>`)
  else {
    const [, name, namespace, dnsPort] = m
    const svc = headless.find((s) => s.metadata.name === name)
    if (!svc) problems.push(`BATON_DISCOVERY names ${name}, which is not a headless Service (clusterIP: None) here`)
    else {
      if (!selects(svc.spec.selector, podLabels)) problems.push(`the headless Service ${name} does not select the Deployment's pods`)
      const sp = (svc.spec.ports ?? []).find((p: Obj) => p.port === Number(dnsPort))
      if (!sp) problems.push(`the headless Service ${name} has no port ${dnsPort}`)
      else if (resolvePort(sp.targetPort ?? sp.port) !== port) problems.push(`the headless Service's targetPort ${sp.targetPort} is not the container port`)
    }
    if (Number(dnsPort) !== port) problems.push(`BATON_DISCOVERY's port ${dnsPort} is not PORT ${port}`)
    if (namespace === "$(POD_NAMESPACE)") {
      if (fieldRef("POD_NAMESPACE") !== "metadata.namespace") problems.push("POD_NAMESPACE does not come from metadata.namespace")
    } else if (namespace !== (dep.metadata.namespace ?? "default")) problems.push(`BATON_DISCOVERY's namespace ${namespace} is not the Deployment's`)
  }

  // A normal Service for players, onto the same port.
  const front = services.filter((s) => s.spec?.clusterIP !== "None")
  if (front.length === 0) problems.push("no Service for players (one that is not headless)")
  for (const s of services) {
    if (!selects(s.spec?.selector, podLabels)) problems.push(`Service ${s.metadata.name} does not select the Deployment's pods`)
    for (const p of s.spec?.ports ?? []) {
      if (resolvePort(p.targetPort ?? p.port) !== port) problems.push(`Service ${s.metadata.name}: targetPort ${p.targetPort} is not the container port ${port}`)
    }
  }
  // The operators' views (every session, player id, metric) on their own port, which no Service exposes.
  const adminPort = Number(value("BATON_ADMIN_PORT"))
  if (!adminPort) problems.push("no BATON_ADMIN_PORT: the operators' views would be on the players' port")
  else {
    if (adminPort === port) problems.push("BATON_ADMIN_PORT is the players' port")
    if (!ports.some((p) => p.containerPort === adminPort)) problems.push(`no containerPort ${adminPort} (BATON_ADMIN_PORT)`)
    for (const s of services)
      for (const p of s.spec?.ports ?? [])
        if (resolvePort(p.targetPort ?? p.port) === adminPort) problems.push(`Service ${s.metadata.name} exposes the admin port ${adminPort}`)
  }
  for (const b of docs.filter((d) => d.kind === "PodDisruptionBudget"))
    if (!selects(b.spec?.selector?.matchLabels, podLabels)) problems.push(`PodDisruptionBudget ${b.metadata.name} does not select the pods`)

  // Only variables the node reads.
  for (const name of env.keys()) if (name.startsWith("BATON_") && !known.has(name)) problems.push(`${name} is not a variable the node reads`)
  return problems
}

/** Problems with a Dockerfile: the official Bun image, an install from the lockfile, `bun run start`. */
function checkDockerfile(file: string, port = 3000): string[] {
  const problems: string[] = []
  const lines = readFileSync(file, "utf8")
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"))
  const from = lines.filter((l) => /^FROM\s/i.test(l))
  if (from.length === 0) problems.push("no FROM")
  for (const f of from) if (!new RegExp(`^FROM\\s+oven/bun:${BUN_VERSION.replaceAll(".", "\\.")}(\\s|$)`, "i").test(f)) problems.push(`"${f}" is not oven/bun:${BUN_VERSION}`)
  if (!lines.some((l) => /^COPY\s.*\bbun\.lock\b/.test(l))) problems.push("bun.lock is not copied into the image")
  if (!lines.some((l) => /^RUN\s.*bun install\b.*--frozen-lockfile/.test(l))) problems.push("no RUN bun install --frozen-lockfile")
  const cmd = lines.filter((l) => /^CMD\s/.test(l)).at(-1)
  if (!cmd || !/\["bun",\s*"run",\s*"start"\]/.test(cmd)) problems.push(`the command is ${cmd}, not ["bun", "run", "start"]`)
  if (!lines.some((l) => new RegExp(`^EXPOSE\\s+${port}\\b`).test(l))) problems.push(`no EXPOSE ${port}`)
  return problems
}

const sets = [
  { name: "app (the example)", dir: join(ROOT, "app") },
  ...listTemplates().map((t) => ({ name: `template ${t.name}`, dir: t.dir })),
]

const scratch = mkdtempSync(join(tmpdir(), "baton-manifests-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

describe("deployment files", () => {
  test("there are four templates, and the node's variables can be read", () => {
    expect(listTemplates().map((t) => t.name)).toEqual(["turn-based", "realtime", "lobby", "react"])
    const known = variablesTheNodeReads()
    for (const v of ["BATON_CLUSTER_SECRET", "BATON_DISCOVERY", "BATON_ADVERTISE_URL", "BATON_APP_VERSION", "BATON_GRACE_MS"]) expect(known).toContain(v)
  })

  for (const set of sets) {
    test(`${set.name}: the Kubernetes manifests are consistent`, () => {
      expect(existsSync(join(set.dir, "k8s"))).toBe(true)
      expect(checkManifests(join(set.dir, "k8s"))).toEqual([])
    })
    test(`${set.name}: the Dockerfile builds on oven/bun with the lockfile and runs bun run start`, () => {
      expect(checkDockerfile(join(set.dir, "Dockerfile"))).toEqual([])
    })
  }

  test("a generated project's manifests carry its own name and stay consistent", async () => {
    for (const t of listTemplates()) {
      const { dir } = await createProject({ dir: join(scratch, `space-${t.name}`), template: t.name })
      expect(checkManifests(join(dir, "k8s"))).toEqual([])
      const all = readdirSync(join(dir, "k8s"))
        .map((f) => readFileSync(join(dir, "k8s", f), "utf8"))
        .join("\n")
      expect(all).not.toContain("baton-app")
      expect(all).toContain(`dns:space-${t.name}-peers.$(POD_NAMESPACE).svc.cluster.local:3000`)
    }
  }, 120_000) // the first `baton new` in a checkout packs the framework into the project

  test("the checks catch what they are meant to catch", () => {
    const dir = join(scratch, "broken")
    const src = join(ROOT, "templates/turn-based/k8s")
    const write = (edit: (text: string) => string) => {
      rmSync(dir, { recursive: true, force: true })
      mkdirSync(dir, { recursive: true })
      for (const f of readdirSync(src)) writeFileSync(join(dir, f), edit(readFileSync(join(src, f), "utf8")))
      return checkManifests(dir)
    }
    expect(write((t) => t)).toEqual([])
    expect(write((t) => t.replace("maxUnavailable: 0", "maxUnavailable: 1")).join()).toContain("maxUnavailable is 1")
    expect(write((t) => t.replace("path: /readyz", "path: /healthz")).join()).toContain("readinessProbe path is /healthz")
    expect(write((t) => t.replace("terminationGracePeriodSeconds: 40", "terminationGracePeriodSeconds: 20")).join()).toContain("terminationGracePeriodSeconds 20")
    expect(write((t) => t.replace("clusterIP: None", "clusterIP: 10.0.0.1")).join()).toContain("not a headless Service")
    expect(write((t) => t.replace("baton-app-peers.$(POD", "baton-peers.$(POD")).join()).toContain("names baton-peers")
    expect(write((t) => t.replace("value: json", "value: json\n            - name: BATON_TYPO\n              value: x")).join()).toContain("BATON_TYPO is not a variable")
    expect(write((t) => t.replace("containerPort: 3000", "containerPort: 8080")).join()).toContain("no containerPort 3000")
  })
})
