/**
 * Turns for jobs that each start a worker thread (reading a PDF, parsing a CSV): at most
 * `concurrency` run at once, the others wait in arrival order. Each worker costs a thread and,
 * while it works, a few times its input's size in memory, so uploads arriving together do not
 * each start one. `take` resolves with the release, which is safe to call more than once.
 */
export function workerTurns(): { take(concurrency: number): Promise<() => void> } {
  let running = 0
  const waiting: (() => void)[] = []
  return {
    async take(concurrency) {
      if (running >= concurrency) await new Promise<void>((resolve) => waiting.push(resolve))
      running++
      let released = false
      return () => {
        if (released) return
        released = true
        running--
        waiting.shift()?.()
      }
    },
  }
}
