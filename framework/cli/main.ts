#!/usr/bin/env bun
/**
 * `baton new | dev | roll | start`. The environment is set before anything
 * else is even imported: Bun evaluates CommonJS dependencies (mutative picks
 * its build from NODE_ENV that way) while it links static imports, before the
 * first module body runs, so a static `import` after production-env.ts would
 * be too late.
 */
import "./production-env.ts"

await import("./commands.ts")
