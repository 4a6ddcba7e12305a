/** Prometheus text-format metrics (GET /metrics). */
export { Registry, Counter, Gauge, Histogram } from "./registry.ts"
export { SampleWindow } from "./window.ts"
