/**
 * Lets the event loop in (other requests, socket reads, timers). Local libsql answers
 * synchronously, so a long run of statements or pages would otherwise hold the loop throughout.
 */
export const breathe = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * A `breathe` that lets the loop in only once `everyMs` have passed since the last time: for
 * loops of many small steps, where a turn after each step would cost more than the step.
 */
export function breather(everyMs: number): () => Promise<void> {
  let since = performance.now()
  return async () => {
    if (performance.now() - since < everyMs) return
    await breathe()
    since = performance.now()
  }
}
