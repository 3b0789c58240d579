/**
 * Issue 13 item 10: isolation proven by fuzzing the real API. Six users (three hostile) drive the
 * real HTTP and WebSocket API in random interleavings of every operation of the catalogue
 * (tests/support/fuzz/ops); after every step no answer and no frame may carry another user's
 * data, and every foreign id must be a 404. A few hundred operations here, with the seed printed:
 * replay a failure with FUZZ_SEED=<seed> FUZZ_RUNS=<n>. `bun run fuzz:isolation` runs 100,000.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { formatReport, fuzzSettings, runFuzz, startFuzzStack, type FuzzStackHandle } from '../../support/fuzz/runner'
import { catalogue } from '../../support/fuzz/ops'

setDefaultTimeout(120_000) // a hang guard; the run itself takes seconds

let stack: FuzzStackHandle
beforeAll(async () => (stack = await startFuzzStack({ users: 6 })))
afterAll(() => stack?.close())

describe('isolation fuzzer', () => {
  test('random interleavings of every operation by 6 users (3 hostile) never show one user another user\'s data', async () => {
    const { seed, operations } = fuzzSettings(400)
    console.log(`isolation fuzzer: FUZZ_SEED=${seed} FUZZ_RUNS=${operations}`)
    const report = await runFuzz(stack, { seed, operations, stepsPerRun: 40 })
    console.log(formatReport(report))
    expect(report.operations).toBeGreaterThanOrEqual(operations)
    // The hostile paths were really taken: foreign ids answered 404 across areas.
    const foreign = Object.entries(report.counts).filter(([, byOutcome]) => Object.keys(byOutcome).some((k) => k.startsWith('foreign')))
    expect(foreign.length).toBeGreaterThanOrEqual(5)
  })

  test('the catalogue covers every area of today\'s API', () => {
    const areas = new Set(catalogue.map((op) => op.name.split('.')[0]))
    expect([...areas].sort()).toEqual(['agents', 'anonymous', 'auth', 'datasets', 'models', 'notes', 'runs', 'threads', 'ws'])
  })
})
