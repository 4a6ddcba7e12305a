/**
 * A WebSocket the test speaks for, passed as join's `WebSocket` option: it
 * opens on the next microtask, records what the SDK sends, and says what the
 * test tells it to, so orders a real node rarely produces are exact.
 */
export class ScriptedSocket {
  static all: ScriptedSocket[] = []
  readyState = 0
  sent: string[] = []
  onopen: (() => void) | null = null
  onmessage: ((ev: { data: string }) => void) | null = null
  onclose: ((ev: { code: number; reason: string }) => void) | null = null
  onerror: (() => void) | null = null
  constructor(readonly url: string) {
    ScriptedSocket.all.push(this)
    queueMicrotask(() => {
      this.readyState = 1
      this.onopen?.()
    })
  }
  send(frame: string) {
    this.sent.push(frame)
  }
  close() {
    this.readyState = 3
  }
  /** The connection ends from the other side (a node gone, a route lost): the SDK's onclose runs. */
  drop(code = 1006, reason = "connection lost") {
    this.readyState = 3
    this.onclose?.({ code, reason })
  }
  say(msg: unknown) {
    this.onmessage?.({ data: JSON.stringify(msg) })
  }
  leaves(): number {
    return this.sent.filter((f) => f === '{"t":"leave"}').length
  }
}
