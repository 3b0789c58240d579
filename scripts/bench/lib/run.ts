/**
 * A benchmark's outer frame: runs `body` (its result is the exit code, 0 when it returns
 * nothing), reports a crash as "<what> failed" (exit code 1), always runs `stops` in order,
 * then exits the process.
 */
export async function runBenchmark(
  what: string,
  body: () => Promise<number | undefined> | Promise<void>,
  stops: (() => unknown)[],
): Promise<never> {
  let exitCode = 1
  try {
    exitCode = (await body()) ?? 0
  } catch (error) {
    console.error(`${what} failed:`, error)
  } finally {
    for (const stop of stops) await stop()
  }
  process.exit(exitCode)
}
