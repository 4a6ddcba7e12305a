/** Structured logs shared by every subsystem. */
export { createLogger, type Logger, type LogFormat } from "./log.ts"
