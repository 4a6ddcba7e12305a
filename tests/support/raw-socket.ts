import { waitUntil } from "./wait.ts"

/** A bare WebSocket that records frames: for protocol tests below the SDK. */
export class RawSocket {
  readonly frames: any[] = []
  closed: { code: number; reason: string } | undefined
  #ws: WebSocket

  private constructor(ws: WebSocket) {
    this.#ws = ws
    ws.onmessage = (ev) => this.frames.push(JSON.parse(String(ev.data)))
    ws.onclose = (ev) => {
      this.closed = { code: ev.code, reason: ev.reason }
    }
  }

  /** `baseUrl` may carry a query (`?token=...`): it is kept on the /ws URL. */
  static async open(baseUrl: string): Promise<RawSocket> {
    const u = new URL(baseUrl)
    const ws = new WebSocket(`${u.protocol === "https:" ? "wss:" : "ws:"}//${u.host}/ws${u.search}`)
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve()
      ws.onerror = () => reject(new Error(`cannot open ${baseUrl}/ws`))
    })
    return new RawSocket(ws)
  }

  send(frame: string | object | Uint8Array): void {
    this.#ws.send(typeof frame === "string" || frame instanceof Uint8Array ? frame : JSON.stringify(frame))
  }

  /** Waits for the next frame matching `match` after the ones already read with `next`. */
  #read = 0
  async next(match: (f: any) => boolean = () => true, what = "a frame"): Promise<any> {
    return waitUntil(() => {
      while (this.#read < this.frames.length) {
        const f = this.frames[this.#read++]
        if (match(f)) return f
      }
      return undefined
    }, what)
  }

  async waitClosed(): Promise<{ code: number; reason: string }> {
    return waitUntil(() => this.closed, "the socket closed")
  }

  close(): void {
    this.#ws.close()
  }
}
