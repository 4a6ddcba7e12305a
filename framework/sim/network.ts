import { type AcceptedLink, type Link, type LinkHandlers, Refused, type Transport } from "../cluster/index.ts"
import type { Random } from "./random.ts"
import { NET, type Owner, type Scheduler } from "./scheduler.ts"

/** One host on the simulated network: what answers a dial, a GET and a player's socket. */
export interface Endpoint {
  owner: Owner
  /** A link dialled to `path` (with the query string's token): accepted (the server end is the endpoint's), or refused with why. */
  accept(url: URL, link: AcceptedLink): string | undefined
  fetch(request: Request): Promise<Response>
  /** A load balancer: the host each new connection is passed to (undefined: none is up). */
  route?(): Endpoint | undefined
}

export interface NetworkOptions {
  /** One-way delay: `baseMs` plus an exponential tail of mean `tailMs`. */
  baseMs: number
  tailMs: number
  /** Chance that a frame breaks its link (a reset: an ordered link loses nothing silently). */
  resetChance: number
}

/** The dialler's end of a link, naming the process at the other end (for the checks: was it alive?). */
export type DialledLink = Link & { readonly peer: Owner }

type Side = {
  owner: Owner
  handlers?: LinkHandlers
  open: boolean
  /** When the last frame this side sent arrives: a link delivers in order. */
  lastArrival: number
}

/**
 * The simulated network: hosts by address, links between owners with a
 * delay distribution, resets, and cuts (one-way or both ways). A frame
 * across a cut waits, as TCP retransmits, and arrives once it heals (or
 * never, if its link closes first); a dial across a cut hangs until its
 * timeout; a host that crashed refuses, one powered off does not answer.
 */
export class SimNetwork {
  readonly #hosts = new Map<string, Endpoint>()
  /** "a>b": frames from a do not reach b. */
  readonly #cuts = new Set<string>()
  readonly #sched: Scheduler
  readonly #rnd: Random
  opts: NetworkOptions
  /** Frames delivered, for the report. */
  frames = 0
  resets = 0

  constructor(sched: Scheduler, rnd: Random, opts: NetworkOptions) {
    this.#sched = sched
    this.#rnd = rnd
    this.opts = opts
  }

  host(address: string, endpoint: Endpoint): void {
    this.#hosts.set(address, endpoint)
  }

  unhost(address: string): void {
    this.#hosts.delete(address)
  }

  cut(from: Owner, to: Owner): void {
    this.#cuts.add(`${from}>${to}`)
  }

  heal(): void {
    this.#cuts.clear()
  }

  get cuts(): string[] {
    return [...this.#cuts]
  }

  reaches(from: Owner, to: Owner): boolean {
    return !this.#cuts.has(`${from}>${to}`)
  }

  #delay(): number {
    return this.opts.baseMs + this.#rnd.exponential(this.opts.tailMs)
  }

  /** A frame (or a close) from one side to the other, in order, waiting out any cut. */
  #carry(from: Side, to: Side, deliver: () => void): void {
    const at = Math.max(from.lastArrival, this.#sched.now + this.#delay())
    from.lastArrival = at
    const attempt = () => {
      if (!this.reaches(from.owner, to.owner)) {
        // Retransmitted until the cut heals: later frames queue behind this one.
        from.lastArrival = Math.max(from.lastArrival, this.#sched.now + 200)
        return void this.#sched.afterPlain(200, attempt, NET)
      }
      if (this.#sched.isDead(to.owner)) return
      this.#sched.after(0, deliver, to.owner)
    }
    this.#sched.afterPlain(at - this.#sched.now, attempt, NET)
  }

  /** Two connected ends: `a` is the dialler's, `b` the acceptor's. */
  #pair(aOwner: Owner, bOwner: Owner): [DialledLink & { side: Side }, AcceptedLink & { side: Side }] {
    const a: Side = { owner: aOwner, open: true, lastArrival: 0 }
    const b: Side = { owner: bOwner, open: true, lastArrival: 0 }
    const end = (self: Side, other: Side): DialledLink & { side: Side } => ({
      side: self,
      peer: other.owner,
      send: (data) => {
        if (!self.open) return false
        if (this.#rnd.chance(this.opts.resetChance)) {
          this.resets++
          close(self, other, 1006, "connection reset")
          return true
        }
        this.#carry(self, other, () => {
          if (!other.open) return
          this.frames++
          other.handlers?.message(data)
        })
        return true
      },
      close: (code = 1000, reason = "") => close(self, other, code, reason),
      get open() {
        return self.open
      },
      ping: () => {
        if (!self.open) return
        this.#carry(self, other, () => other.open && this.#carry(other, self, () => self.open && self.handlers?.pong?.()))
      },
    })
    const close = (self: Side, other: Side, code: number, reason: string) => {
      if (!self.open) return
      self.open = false
      this.#sched.after(0, () => self.handlers?.close(code, reason), self.owner)
      this.#carry(self, other, () => {
        if (!other.open) return
        other.open = false
        other.handlers?.close(code, reason)
      })
    }
    const server = end(b, a) as AcceptedLink & { side: Side }
    Object.defineProperty(server, "handlers", { get: () => b.handlers, set: (h: LinkHandlers) => (b.handlers = h) })
    this.#resets.set(a, () => close(a, b, 1006, "connection reset"))
    this.#resets.set(b, () => close(b, a, 1006, "connection reset"))
    return [end(a, b), server]
  }

  /** Per link end: closes it as its process's death does (the close follows what it sent, in order). */
  readonly #resets = new WeakMap<Side, () => void>()

  /**
   * A process that exited or crashed: the other end of each of its links
   * sees it close, after whatever it had sent (its OS closes them). Links it
   * closed itself before (a goodbye) are closed already, in order.
   */
  crashed(owner: Owner): void {
    for (const pair of this.#links)
      for (const side of [pair.a, pair.b]) if (side.owner === owner && side.open) this.#resets.get(side)?.()
    this.#links = this.#links.filter((p) => p.a.owner !== owner && p.b.owner !== owner)
  }

  /** A host powered off: its links stay half open until the other end gives up on them. */
  vanished(owner: Owner): void {
    for (const pair of this.#links) {
      if (pair.a.owner === owner) pair.a.open = false
      if (pair.b.owner === owner) pair.b.open = false
    }
    this.#links = this.#links.filter((p) => p.a.owner !== owner && p.b.owner !== owner)
  }

  #links: { a: Side; b: Side }[] = []

  /** Opens a link from `owner` to `url`; resolves with the dialler's end. */
  dial(owner: Owner, url: string, handlers: LinkHandlers, timeoutMs = 30_000): Promise<DialledLink> {
    const u = new URL(url)
    return new Promise((resolve, reject) => {
      let settled = false
      const fail = (why: string) => {
        if (settled) return
        settled = true
        reject(new Error(`cannot reach ${u.origin}${u.pathname} (${why})`))
      }
      const timer = this.#sched.after(timeoutMs, () => fail("timed out"), owner)
      const front = this.#hosts.get(u.host)
      const there = front?.route ? front.route() : front
      if (!there) return void this.#sched.after(this.#delay() * 2, () => fail("connection refused"), owner)
      if (!this.reaches(owner, there.owner)) return // the SYN is lost: the timeout answers
      this.#sched.after(this.#delay(), () => {
        if (this.#hosts.get(u.host) !== front || this.#sched.isDead(there.owner)) return
        const [mine, theirs] = this.#pair(owner, there.owner)
        mine.side.handlers = handlers
        // The upgrade's answer reaches the dialler before any frame the acceptor sends on the new link.
        const openAt = this.#sched.now + this.#delay()
        theirs.side.lastArrival = openAt
        if (this.reaches(there.owner, owner))
          this.#sched.after(openAt - this.#sched.now, () => {
            if (settled) return mine.close(1001, "gave up")
            this.#sched.cancel(timer)
            if (refused) return fail(`401 ${refused}`)
            settled = true
            this.#links.push({ a: mine.side, b: theirs.side })
            resolve(mine)
          }, owner)
        const refused = there.accept(u, theirs)
      }, there.owner)
    })
  }

  /** One HTTP request to a host (its /healthz), answered by its real HTTP app. */
  request(owner: Owner, url: string, timeoutMs: number): Promise<Response> {
    const u = new URL(url)
    return new Promise((resolve, reject) => {
      let settled = false
      const timer = this.#sched.after(timeoutMs, () => {
        if (settled) return
        settled = true
        reject(new Error(`GET ${u.pathname} to ${u.host} timed out after ${timeoutMs} ms`))
      }, owner)
      const there = this.#hosts.get(u.host)
      if (!there) {
        return void this.#sched.after(this.#delay() * 2, () => {
          if (settled) return
          settled = true
          this.#sched.cancel(timer)
          reject(new Refused(`connection refused by ${u.host}`))
        }, owner)
      }
      if (!this.reaches(owner, there.owner)) return
      this.#sched.after(this.#delay(), () => {
        if (this.#sched.isDead(there.owner)) return
        void there.fetch(new Request(url)).then(async (res) => {
          const body = await res.text()
          if (!this.reaches(there.owner, owner)) return
          this.#sched.after(this.#delay(), () => {
            if (settled) return
            settled = true
            this.#sched.cancel(timer)
            resolve(new Response(body, { status: res.status, headers: res.headers }))
          }, owner)
        })
      }, there.owner)
    })
  }

  /** The Transport a node on this network is given. */
  transportFor(owner: Owner): Transport {
    return {
      dial: (url, handlers, timeoutMs) => this.dial(owner, url, handlers, timeoutMs),
      getJson: async (url, timeoutMs) => {
        const res = await this.request(owner, url, timeoutMs)
        return { ok: res.ok, body: await res.json() }
      },
      resolve4: () => Promise.reject(new Error("the simulated network has no DNS: peers are listed")),
    }
  }
}
