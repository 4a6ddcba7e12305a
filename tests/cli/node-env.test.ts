import { describe, expect, test } from "bun:test"
import { nodeOptionsFromEnv } from "../../framework/cli/node-env.ts"

describe("the operations settings from the environment", () => {
  test("admin port, operator views, create limit and unjoined time are read", () => {
    const o = nodeOptionsFromEnv({ BATON_ADMIN_PORT: "9090", BATON_OPERATOR_VIEWS: "open", BATON_CREATES_PER_MINUTE: "0", BATON_UNJOINED_MS: "30000" }, 3000)
    expect(o).toMatchObject({ adminPort: 9090, operatorViews: "open", createsPerMinute: 0, unjoinedMs: 30_000 })
    expect(nodeOptionsFromEnv({}, 3000)).toMatchObject({ adminPort: undefined, operatorViews: undefined, createsPerMinute: undefined, unjoinedMs: undefined })
  })

  test("a wrong value names the variable and the value", () => {
    expect(() => nodeOptionsFromEnv({ BATON_ADMIN_PORT: "3000" }, 3000)).toThrow(/BATON_ADMIN_PORT must differ from PORT \(3000\)/)
    expect(() => nodeOptionsFromEnv({ BATON_ADMIN_PORT: "70000" }, 3000)).toThrow(/BATON_ADMIN_PORT must be a port 0-65535, got "70000"/)
    expect(() => nodeOptionsFromEnv({ BATON_OPERATOR_VIEWS: "yes" }, 3000)).toThrow(/BATON_OPERATOR_VIEWS must be "open" or "token", got "yes"/)
    expect(() => nodeOptionsFromEnv({ BATON_CREATES_PER_MINUTE: "-1" }, 3000)).toThrow(/BATON_CREATES_PER_MINUTE must be a whole number/)
    expect(() => nodeOptionsFromEnv({ BATON_UNJOINED_MS: "soon" }, 3000)).toThrow(/BATON_UNJOINED_MS must be a number of milliseconds, got "soon"/)
  })
})
