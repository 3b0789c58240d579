/**
 * Leaks (issue 7, benchmark 4): the server's heap and RSS after 20,000 runs versus after the
 * first 1,000 (target growth < 5 %), runs spread over ~50 users whose connections keep opening
 * and closing.
 *
 *   bun run bench:leaks [--runs 20000] [--users 50] [--per-connection 10] [--first 1000] [--sample-every 2000] [--settle-ms 3000]
 *
 * In cycles: every user opens a connection (every other user two), runs `--per-connection`
 * chats on it (two at a time, continuing one thread, every 4th asking for a tool call), and
 * closes it. Every run is checked (lost / duplicated / misdelivered must stay 0).
 * Finished runs keep their journal in memory for JOURNAL_GRACE_MS (60 s by default) so resumes
 * are served from memory; here the grace is 500 ms and every sample waits it out, so what is
 * measured is what stays. Likewise the failure-rate alert keeps one record per finished run for
 * ALERT_FAILURE_WINDOW_MS (300 s by default; 1 s here). Each sample is taken after `--settle-ms`
 * of idle time: the allocator returns freed pages to the system lazily, so RSS read right after
 * a burst of runs is tens of MiB higher than a couple of seconds later. Memory is this process's (the server's; clients and the scripted
 * model run in child processes), after Bun.gc(true). Each sample also shows the allocator's own
 * figures (mimalloc's committed bytes, bun:jsc memoryUsage) and the address space mapped (VmSize).
 *
 * mimalloc gives freed pages back to the system after a delay, so RSS read at any moment swings by
 * tens of MiB with what it still holds. To see what the process really keeps, start it with
 * the delay off:  MIMALLOC_PURGE_DELAY=0 bun run bench:leaks  (read by mimalloc at start-up;
 * this script cannot set it for itself). The header line says which way it ran.
 */
import { intArg } from './lib/args'
import { LoadClients, startModelProcess } from './lib/load-clients'
import { printMachine } from './lib/machine'
import { fmtMemory, memory, type MemorySample, objectTypeCounts, typeGrowth } from './lib/memory'
import { fmtBytes, fmtMs, round } from './lib/numbers'
import { commandLine, printTable, recordResult } from './lib/results'
import { runBenchmark } from './lib/run'
import { startBenchServer } from './lib/server'
import { makeUsers } from './lib/users'

const RUNS = intArg('runs', 20_000)
const USERS = intArg('users', 50)
const PER_CONNECTION = intArg('per-connection', 10)
const FIRST = intArg('first', 1000)
const SAMPLE_EVERY = intArg('sample-every', 2000)
const GRACE_MS = 500
const SETTLE_MS = intArg('settle-ms', 3000)

printMachine(`leaks: ${RUNS} runs over ${USERS} users, connections reopened every ${PER_CONNECTION} runs`)
console.log(
  process.env.MIMALLOC_PURGE_DELAY === undefined
    ? 'allocator: default purge delay (RSS includes freed pages not yet given back)'
    : `allocator: MIMALLOC_PURGE_DELAY=${process.env.MIMALLOC_PURGE_DELAY}`,
)
const clients = await LoadClients.spawn()
const modelProcess = await startModelProcess({ mode: 'echo', chunkSize: 6, chunkDelayMs: 0 })
const ollamaUrl = modelProcess.url
const bs = await startBenchServer({
  ollamaUrl,
  env: { JOURNAL_GRACE_MS: String(GRACE_MS), ALERT_FAILURE_WINDOW_MS: '1000' },
})

const samples: { runs: number; elapsedMs: number; mem: MemorySample }[] = []
let firstTypes: Record<string, number> = {}
let lastTypes: Record<string, number> = {}
const totals = {
  runs: 0,
  completed: 0,
  lost: 0,
  duplicated: 0,
  misdelivered: 0,
  outOfOrder: 0,
  incomplete: 0,
  refused: 0,
  connectionsOpened: 0,
  errors: [] as string[],
}
await runBenchmark('leak benchmark', async () => {
  const users = await makeUsers(bs, USERS, { httpCount: Math.min(USERS, 10), prefix: 'leaks' })
  const started = performance.now()
  let nextSample = FIRST
  let cycle = 0
  while (totals.runs < RUNS) {
    cycle++
    const perUser = Math.min(PER_CONNECTION, Math.ceil((RUNS - totals.runs) / USERS))
    const twice = users.filter((_, i) => i % 2 === 1)
    const a = await clients.open(bs.wsUrl, users, 1)
    const b = await clients.open(bs.wsUrl, twice, 1)
    totals.connectionsOpened += a.opened + b.opened
    if (a.failed + b.failed) throw new Error(`connections failed: ${[...a.errors, ...b.errors].join('; ')}`)
    const r = await clients.chat(
      users.map((u) => ({
        userId: u.id,
        runs: Math.min(perUser, RUNS - totals.runs),
        concurrency: 2,
        reuseThread: true,
        toolEvery: 4,
      })),
      { timeoutMs: 300_000 },
    )
    await clients.closeConnections()
    for (const k of [
      'runs',
      'completed',
      'lost',
      'duplicated',
      'misdelivered',
      'outOfOrder',
      'incomplete',
      'refused',
    ] as const)
      totals[k] += r[k]
    totals.errors.push(...r.errors.slice(0, 5))
    if (totals.runs >= nextSample || totals.runs >= RUNS) {
      // Past the journal grace, and long enough idle for the allocator to hand freed pages back
      // (RSS measured right after a burst is 20-30 MiB higher and drops within ~2 s).
      await Bun.sleep(SETTLE_MS)
      const mem = await memory()
      const elapsedMs = performance.now() - started
      samples.push({ runs: totals.runs, elapsedMs, mem })
      lastTypes = await objectTypeCounts()
      if (samples.length === 1) firstTypes = lastTypes
      console.log(
        `after ${totals.runs} runs (${fmtMs(elapsedMs)}, ${round(totals.runs / (elapsedMs / 1000), 1)} runs/s, ${totals.connectionsOpened} connections opened and closed): ${fmtMemory(mem)}`,
      )
      nextSample = samples.length === 1 ? SAMPLE_EVERY : nextSample + SAMPLE_EVERY
    }
  }
  const first = samples[0]!
  const last = samples.at(-1)!
  /** The figures every sample has (the rss breakdown is Linux-only). */
  type Figure = 'heapUsed' | 'rss' | 'objects'
  const growth = (k: Figure) => (last.mem[k] - first.mem[k]) / first.mem[k]
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`
  console.log('')
  printTable(
    samples.map((s) => [
      s.runs,
      fmtBytes(s.mem.heapUsed),
      pct((s.mem.heapUsed - first.mem.heapUsed) / first.mem.heapUsed),
      fmtBytes(s.mem.rss),
      pct((s.mem.rss - first.mem.rss) / first.mem.rss),
      s.mem.rssAnon === undefined
        ? '—'
        : `${fmtBytes(s.mem.rssAnon)} / ${fmtBytes(s.mem.rssFile ?? 0)} / ${fmtBytes(s.mem.rssShmem ?? 0)}`,
      s.mem.objects.toLocaleString('en-US'),
      s.mem.mallocCommitted === undefined ? '—' : fmtBytes(s.mem.mallocCommitted),
      s.mem.vmSize === undefined ? '—' : fmtBytes(s.mem.vmSize),
    ]),
    [
      'runs',
      'heap used',
      'vs first',
      'rss',
      'vs first',
      'rss anon / file / shmem',
      'objects',
      'allocator committed',
      'mapped',
    ],
  )
  // Least-squares slope over every sample: steadier than two points when RSS jitters.
  const slope = (k: Figure) => {
    const xs = samples.map((s) => s.runs)
    const ys = samples.map((s) => s.mem[k])
    const mx = xs.reduce((a, b) => a + b, 0) / xs.length
    const my = ys.reduce((a, b) => a + b, 0) / ys.length
    const den = xs.reduce((a, x) => a + (x - mx) ** 2, 0)
    return den === 0 ? 0 : (xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0) / den) * 1000
  }
  console.log(
    `trend (least squares over ${samples.length} samples): heap ${fmtBytes(slope('heapUsed'))} per 1,000 runs, RSS ${fmtBytes(slope('rss'))} per 1,000 runs, ${round(slope('objects'), 1)} objects per 1,000 runs`,
  )
  console.log(
    `object types that grew most from ${first.runs} to ${last.runs} runs: ${typeGrowth(firstTypes, lastTypes)
      .map(([k, d]) => `${k} ${d >= 0 ? '+' : ''}${d}`)
      .join(', ')}`,
  )
  console.log(
    `server state at the end: ${bs.server.runtime.registry.size} connections, ${bs.server.runtime.runs.active.size} active runs, persister pending ${bs.server.runtime.runs.persister.pending}`,
  )
  for (const e of totals.errors.slice(0, 10)) console.log(`  ! ${e}`)
  const problems = totals.lost + totals.duplicated + totals.misdelivered + totals.outOfOrder + totals.incomplete
  recordResult('leaks', {
    command: commandLine('bench:leaks'),
    params: {
      runs: RUNS,
      users: USERS,
      perConnection: PER_CONNECTION,
      first: FIRST,
      sampleEvery: SAMPLE_EVERY,
      journalGraceMs: GRACE_MS,
      mimallocPurgeDelay: process.env.MIMALLOC_PURGE_DELAY ?? null,
      alertFailureWindowMs: 1000,
      settleMs: SETTLE_MS,
    },
    figures: {
      ...totals,
      errors: totals.errors.length,
      cycles: cycle,
      samples: samples.map((s) => ({ runs: s.runs, elapsedMs: round(s.elapsedMs), ...s.mem })),
      heapGrowth: round(growth('heapUsed'), 4),
      heapSlopePer1000Runs: Math.round(slope('heapUsed')),
      rssSlopePer1000Runs: Math.round(slope('rss')),
      rssGrowth: round(growth('rss'), 4),
      objectGrowth: round(growth('objects'), 4),
      typeGrowth: Object.fromEntries(typeGrowth(firstTypes, lastTypes, 15)),
    },
    targets: [
      {
        name: `heap used after ${last.runs} vs after ${first.runs} runs`,
        value: `${fmtBytes(first.mem.heapUsed)} → ${fmtBytes(last.mem.heapUsed)} (${pct(growth('heapUsed'))})`,
        target: '< 5 %',
        met: growth('heapUsed') < 0.05,
      },
      {
        name: `RSS after ${last.runs} vs after ${first.runs} runs`,
        value: `${fmtBytes(first.mem.rss)} → ${fmtBytes(last.mem.rss)} (${pct(growth('rss'))})`,
        target: '< 5 %',
        met: growth('rss') < 0.05,
      },
      {
        name: 'trend per 1,000 runs (heap / RSS)',
        value: `${fmtBytes(slope('heapUsed'))} / ${fmtBytes(slope('rss'))}`,
        target: 'reported',
      },
      {
        name: 'live objects',
        value: `${first.mem.objects} → ${last.mem.objects} (${pct(growth('objects'))})`,
        target: 'reported',
      },
      {
        name: 'lost / duplicated / misdelivered events',
        value: `${totals.lost} / ${totals.duplicated} / ${totals.misdelivered}`,
        target: '0 / 0 / 0',
        met: problems === 0,
      },
    ],
  })
  return problems === 0 ? 0 : 1
}, [() => clients.stop(), () => modelProcess.stop(), () => bs.close()])
