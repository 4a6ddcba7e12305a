import { describe, expect, test } from "bun:test"
import { LinkVerifier, signLink } from "../../framework/cluster/index.ts"

const SECRET = "s3cret"
const params = (q: string) => new URLSearchParams(q)

describe("link tokens", () => {
  test("a token opens one link, once, on the node and the link it names, within its lifetime", () => {
    let now = 1_000_000
    const v = new LinkVerifier(SECRET, "n-b", { ttlMs: 10_000, now: () => now })
    const token = signLink(SECRET, { from: "n-a", to: "n-b", kind: "sync" }, now)
    expect(v.verify(params(token), "sync")).toEqual({ ok: true, node: "n-a" })
    expect(v.verify(params(token), "sync")).toMatchObject({ ok: false, code: "replayed", node: "n-a" })
    expect(v.verify(params(signLink(SECRET, { from: "n-a", to: "n-c", kind: "sync" }, now)), "sync")).toMatchObject({ ok: false, code: "wrong-node" })
    expect(v.verify(params(signLink(SECRET, { from: "n-a", to: "n-b", kind: "control" }, now)), "sync")).toMatchObject({ ok: false, code: "wrong-kind" })
    const later = signLink(SECRET, { from: "n-a", to: "n-b", kind: "sync" }, now)
    now += 10_001
    expect(v.verify(params(later), "sync")).toMatchObject({ ok: false, code: "stale" })
    // A changed field breaks the signature; the node it claims is then not reported.
    const tampered = params(signLink(SECRET, { from: "n-a", to: "n-b", kind: "sync" }, now))
    tampered.set("node", "n-z")
    expect(v.verify(tampered, "sync")).toEqual({ ok: false, code: "bad-signature", reason: expect.any(String) })
    expect(v.verify(params("node=%3Cb%3E&to=n-b&kind=sync&ts=1&nonce=AAAAAAAAAAAAAAAAAAAA&sig=x"), "sync")).toMatchObject({ ok: false, code: "malformed" })
    expect(v.verify(params(""), "sync")).toMatchObject({ ok: false, code: "unsigned" })
  })

  test("the memory of used tokens is bounded: full, it refuses new links until old tokens expire", () => {
    let now = 5_000_000
    const v = new LinkVerifier(SECRET, "n-b", { ttlMs: 1_000, maxRemembered: 3, now: () => now })
    const fresh = () => params(signLink(SECRET, { from: "n-a", to: "n-b", kind: "control" }, now))
    for (let i = 0; i < 3; i++) expect(v.verify(fresh(), "control").ok).toBe(true)
    expect(v.verify(fresh(), "control")).toMatchObject({ ok: false, code: "busy" })
    now += 1_001
    for (let i = 0; i < 3; i++) expect(v.verify(fresh(), "control").ok).toBe(true)
  })
})
