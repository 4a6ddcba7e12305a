/** Polls `condition` until it holds; fails with `what` and the last value seen. Never a fixed sleep. */
export async function waitUntil<T>(
  condition: () => T | Promise<T>,
  what: string,
  { timeoutMs = 10_000, everyMs = 10 }: { timeoutMs?: number; everyMs?: number } = {},
): Promise<NonNullable<T>> {
  const deadline = performance.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await condition()
      if (value) return value as NonNullable<T>
      last = value
    } catch (error) {
      last = error
    }
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what} (last: ${String(last)})`)
    await Bun.sleep(everyMs)
  }
}
