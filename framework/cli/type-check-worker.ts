/** The dev process's type check, on a thread of its own (see typeCheckInWorker). */
import { type CheckReply, type CheckRequest, type TypeCheck, typeCheck } from "./type-check.ts"

declare const self: Worker

let checker: Promise<TypeCheck | undefined> | undefined
// Checks run one after the other, each on the program the last one left.
let queue = Promise.resolve()

self.onmessage = (event: MessageEvent<CheckRequest>) => {
  const { id, appDir } = event.data
  queue = queue.then(async () => {
    try {
      checker ??= typeCheck(appDir)
      const check = await checker
      self.postMessage({ id, problems: check ? check.check() : null } satisfies CheckReply)
    } catch (error) {
      self.postMessage({ id, problems: null, error: error instanceof Error ? error.message : String(error) } satisfies CheckReply)
    }
  })
}
