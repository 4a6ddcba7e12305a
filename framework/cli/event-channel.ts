import type { NodeEvent } from "../node/index.ts"

/**
 * A node process's events, on their way to the process that started it.
 * Every message on the IPC channel is one NodeEvent, in the order raised.
 */
export interface EventChannel {
  send(event: NodeEvent): void
  /** Resolves once every event sent so far has been written to the channel (or after `timeoutMs`). */
  flushed(timeoutMs?: number): Promise<void>
}

/**
 * The channel to the parent when it spawned this process with Bun's `ipc`
 * option (then `process.send` exists); undefined otherwise. The dev
 * cluster, tests and benchmarks learn what a node does from it instead of
 * parsing its log.
 */
export function parentChannel(): EventChannel | undefined {
  const send = process.send?.bind(process)
  if (!send) return undefined
  let pending = 0
  const waiting: (() => void)[] = []
  const done = () => {
    pending--
    if (pending === 0) for (const resolve of waiting.splice(0)) resolve()
  }
  return {
    send(event) {
      // A parent that went away takes its channel with it: the node runs on, unobserved.
      if (!process.connected) return
      pending++
      try {
        send(event, undefined, undefined, done)
      } catch {
        done()
      }
    },
    flushed(timeoutMs = 2_000) {
      if (pending === 0) return Promise.resolve()
      // process.exit drops what is still queued on the channel: the last events (drained, stopped) are the ones that matter.
      return new Promise((resolve) => {
        waiting.push(resolve)
        setTimeout(resolve, timeoutMs).unref()
      })
    },
  }
}
