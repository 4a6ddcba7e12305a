#!/usr/bin/env bun
/**
 * create-baton: `bun create baton my-game` runs this (`bunx create-baton
 * my-game`), which is batonjs's `baton new my-game`: the same templates,
 * questions and flags. It lives beside the framework but is a package of its
 * own (not in the batonjs tarball), published with the same version.
 */
import { dirname, join } from "node:path"

const args = process.argv.slice(2)
if (args.length === 0 || args.includes("--help") || args.includes("-h")) {
  console.log(`usage: bun create baton <dir> [--template turn-based|realtime|lobby]

A new game project in <dir>: a small game, its tests, a page, a Dockerfile and
Kubernetes manifests. Without --template it asks which.`)
  process.exit(args.length === 0 ? 2 : 0)
}

// batonjs's main entry is index.ts at the package's top; its command is cli/main.ts beside it.
const batonjs = dirname(Bun.resolveSync("batonjs", import.meta.dir))
const proc = Bun.spawn([process.execPath, join(batonjs, "cli/main.ts"), "new", ...args], { stdio: ["inherit", "inherit", "inherit"] })
process.exit(await proc.exited)
