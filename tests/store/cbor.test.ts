import { expect, test } from "bun:test"

// The cbor-x native addon segfaults Bun when compiled from source; the store
// must switch it off before automerge-repo loads, in every process.
test("the store disables cbor-x native acceleration before automerge-repo loads", async () => {
  const probe = `
    delete process.env.CBOR_NATIVE_ACCELERATION_DISABLED
    await import("batonjs/server")
    console.log(process.env.CBOR_NATIVE_ACCELERATION_DISABLED)
  `
  const run = Bun.spawnSync(["bun", "-e", probe], { cwd: import.meta.dir, env: { ...process.env, CBOR_NATIVE_ACCELERATION_DISABLED: "" } })
  expect(run.stderr.toString()).toBe("")
  expect(run.stdout.toString().trim()).toBe("true")
})
