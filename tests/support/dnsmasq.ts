import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Subprocess } from "bun"
import { freePort } from "./node-process.ts"
import { waitUntil } from "./wait.ts"

/** A real DNS server (Debian's dnsmasq) on 127.0.0.1 serving A records from a hosts file we rewrite. */
export class Dnsmasq {
  readonly port = freePort()
  #dir = mkdtempSync(join(tmpdir(), "baton-dns-"))
  #hosts = join(this.#dir, "hosts")
  #proc: Subprocess | undefined

  static available(): boolean {
    return Bun.which("dnsmasq") !== null || Bun.which("dnsmasq", { PATH: "/usr/sbin:/sbin" }) !== null
  }

  get server(): string {
    return `127.0.0.1:${this.port}`
  }

  /** Serves `name` → these addresses (dnsmasq re-reads the file on SIGHUP). */
  async serve(name: string, addresses: string[]): Promise<void> {
    writeFileSync(this.#hosts, addresses.map((a) => `${a} ${name}\n`).join(""))
    if (this.#proc) {
      this.#proc.kill("SIGHUP")
      return
    }
    const bin = Bun.which("dnsmasq") ?? Bun.which("dnsmasq", { PATH: "/usr/sbin:/sbin" }) ?? "dnsmasq"
    this.#proc = Bun.spawn(
      [bin, "--keep-in-foreground", "--conf-file=/dev/null", `--port=${this.port}`, "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts", `--addn-hosts=${this.#hosts}`, "--pid-file=", "--user=root", "--local-ttl=0"],
      { stdout: "ignore", stderr: "pipe" },
    )
    const { Resolver } = await import("node:dns/promises")
    const r = new Resolver()
    r.setServers([this.server])
    await waitUntil(async () => (await r.resolve4(name).catch(() => [])).length === addresses.length, `dnsmasq answers for ${name}`)
  }

  stop(): void {
    this.#proc?.kill()
    rmSync(this.#dir, { recursive: true, force: true })
  }
}
