/**
 * The long isolation fuzzer: `bun run fuzz:isolation` runs 100,000 operations of the catalogue
 * (tests/support/fuzz) against a real server and the scripted model, and prints its seed and the
 * counts per operation and outcome. FUZZ_SEED replays a seed, FUZZ_RUNS sets the number of
 * operations, FUZZ_USERS the number of users (default 6, half of them hostile).
 * Exit code 0: no user ever saw another user's data; 1: a failure (printed with its seed).
 */
import { formatReport, fuzzSettings, runFuzz, startFuzzStack } from '../tests/support/fuzz/runner'

const { seed, operations } = fuzzSettings(100_000)
const users = Number(process.env.FUZZ_USERS ?? 6)
console.log(`isolation fuzzer: FUZZ_SEED=${seed} FUZZ_RUNS=${operations} FUZZ_USERS=${users}`)
const stack = await startFuzzStack({ users })
let failed = false
try {
  const report = await runFuzz(stack, { seed, operations, stepsPerRun: 100, progress: (line) => console.log(line) })
  console.log(formatReport(report))
} catch (error) {
  failed = true
  console.error(error instanceof Error ? error.message : String(error))
} finally {
  await stack.close()
}
process.exit(failed ? 1 : 0)
