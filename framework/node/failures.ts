import type { Logger } from "../log/index.ts"
import type { Registry } from "../metrics/index.ts"
import { errorText, type HandlerSite, newErrorId, type NodeEventBody } from "../protocol/index.ts"

export type { HandlerSite } from "../protocol/index.ts"

/** Reports one caught exception; the id is quoted to the client and written beside the error in the log. */
export type ReportFailure = (site: HandlerSite, error: unknown, context?: Record<string, unknown>) => { errorId: string }

// One counter per metrics registry (per node), whichever handler asks first.
const reporters = new WeakMap<Registry, ReportFailure>()

/**
 * What happens when a handler throws. Bun ends the process on an exception
 * thrown out of a WebSocket handler, so one bad frame (a bug of ours or of a
 * game) would take every session of the node with it: instead the failure
 * is logged with an id and raised as an event, counted, and the caller
 * closes only the connection it came from. The exception's text stays with
 * the node; a client sees the id.
 */
export function handlerFailures(host: { metrics: Registry; log: Logger; emit(event: NodeEventBody): void }): ReportFailure {
  let report = reporters.get(host.metrics)
  if (report) return report
  const failures = host.metrics.counter("baton_handler_errors_total", "Exceptions caught in a WebSocket or HTTP handler, by site; the connection was closed, the process went on")
  report = (site, error, context) => {
    const errorId = newErrorId()
    failures.inc(1, { site })
    try {
      host.log.error("handler failed", { site, errorId, ...context, error })
    } catch {
      // The logger itself failing (a broken stdout) must not turn one bad frame into a crash either.
    }
    host.emit({ t: "handler-failed", site, errorId, error: errorText(error), ...(typeof context?.path === "string" ? { path: context.path } : {}) })
    return { errorId }
  }
  reporters.set(host.metrics, report)
  return report
}
