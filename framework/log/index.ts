/** Structured logs shared by every subsystem. */
export { captureConsole, createLogger, type Logger, type LogFormat } from "./log.ts"
