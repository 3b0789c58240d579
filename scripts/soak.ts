/**
 * Soak test (issue 4): many runs across many users over real WebSockets, counting lost,
 * duplicated and misdelivered events — all must be 0 (exit 1 otherwise) — and the server's
 * heap before/after.
 *
 *   bun run soak [--runs 1000] [--users 50] [--conns 2] [--concurrency 2] [--tool-every 4] [--http-users N]
 *
 * Every user holds `--conns` sockets; each run is sent from one of them and must reach all of
 * them, complete (seq 1..n), once, and reach nobody else. Every `--tool-every`-th run asks the
 * planner agent for a `calculate` tool call, so it carries all five critical events. Later runs
 * of a user continue the thread of its first one (history is read). The clients live in a
 * child process and the scripted model in another (scripts/bench/lib/load-clients.ts), so the heap figures
 * are the server's.
 *
 * `--inject-faults` checks the checker: it wraps the server's registry.deliver to drop one
 * event, write one twice on the raw sockets and send one to another user; the soak must then report them and fail.
 */
import { intArg } from './bench/lib/args'
import { LoadClients, startModelProcess } from './bench/lib/load-clients'
import { printMachine } from './bench/lib/machine'
import { fmtMemory, memory } from './bench/lib/memory'
import { fmtBytes, fmtMs, round, summarize } from './bench/lib/numbers'
import { commandLine, recordResult } from './bench/lib/results'
import { runBenchmark } from './bench/lib/run'
import { startBenchServer } from './bench/lib/server'
import { makeUsers } from './bench/lib/users'

const RUNS = intArg('runs', 1000)
const USERS = intArg('users', 50)
const CONNS = intArg('conns', 2)
const CONCURRENCY = intArg('concurrency', 2)
const TOOL_EVERY = intArg('tool-every', 4)
const HTTP_USERS = intArg('http-users', USERS)
const GRACE_MS = 1000
const INJECT = process.argv.includes('--inject-faults')

printMachine(`soak: ${RUNS} runs across ${USERS} users, ${CONNS} connections each`)
// The scripted model runs in a process of its own: its request log would otherwise count as
// the server's heap (about 5 KB per model call).
const modelProcess = await startModelProcess({ mode: 'echo', chunkSize: 3, chunkDelayMs: 1 })
const bs = await startBenchServer({ ollamaUrl: modelProcess.url, env: { JOURNAL_GRACE_MS: String(GRACE_MS) } })
const clients = await LoadClients.spawn()
await runBenchmark('soak', async () => {
  const users = await makeUsers(bs, USERS, { httpCount: HTTP_USERS, prefix: 'soak' })
  const opened = await clients.open(bs.wsUrl, users, CONNS)
  console.log(`connections: ${opened.opened} open (${opened.failed} failed) in ${fmtMs(opened.ms)}`)
  if (opened.failed) throw new Error(`could not open every connection: ${opened.errors.join('; ')}`)

  // Warm-up (one run per user, checked too) so lazy initialisation is not counted as growth.
  const warm = await clients.chat(users.map((u) => ({ userId: u.id, runs: 1 })))
  await Bun.sleep(GRACE_MS + 2000) // past the journal grace, and idle long enough for the allocator to return freed pages
  const before = await memory()
  console.log(`heap before: ${fmtMemory(before)}`)

  if (INJECT) {
    const registry = bs.server.runtime.registry
    const deliver = registry.deliver.bind(registry)
    let n = 0
    registry.deliver = (userId, entry) => {
      n++
      if (n === 50) return // lost
      deliver(userId, entry)
      if (n === 60) for (const c of registry.connectionsOf(userId)) c.socket.send(entry.wire) // duplicated (past the Connection's own seq guard)
      if (n === 70) deliver(users.find((u) => u.id !== userId)!.id, entry) // misdelivered
    }
    console.log('fault injection: event 50 dropped, 60 doubled, 70 also sent to another user')
  }

  const perUser = Math.ceil(RUNS / USERS)
  const started = performance.now()
  const result = await clients.chat(
    users
      .map((u, i) => ({
        userId: u.id,
        runs: Math.min(perUser, Math.max(0, RUNS - i * perUser)),
        concurrency: CONCURRENCY,
        toolEvery: TOOL_EVERY || undefined,
        reuseThread: true,
      }))
      .filter((j) => j.runs > 0),
    { timeoutMs: 600_000 },
  )
  const elapsed = performance.now() - started
  await Bun.sleep(GRACE_MS + 2000) // finished journals leave memory after the grace period; freed pages go back
  const after = await memory()
  console.log(`heap after:  ${fmtMemory(after)}`)

  const total = {
    runs: warm.runs + result.runs,
    completed: warm.completed + result.completed,
    incomplete: warm.incomplete + result.incomplete,
    lost: warm.lost + result.lost,
    duplicated: warm.duplicated + result.duplicated,
    outOfOrder: warm.outOfOrder + result.outOfOrder,
    misdelivered: warm.misdelivered + result.misdelivered,
    deliveriesChecked: warm.deliveriesChecked + result.deliveriesChecked,
    eventFrames: warm.eventFrames + result.eventFrames,
  }
  const notCompleted = Object.entries(result.statuses)
    .filter(([s]) => s !== 'completed')
    .reduce((n, [, c]) => n + c, 0)
  const done = summarize(result.doneMs)
  console.log(
    `\nruns: ${result.runs} (+${warm.runs} warm-up) in ${fmtMs(elapsed)} — ${round(result.runs / (elapsed / 1000), 1)} runs/s; statuses ${JSON.stringify(result.statuses)}; ` +
      `${result.refused} chats refused over a cap and retried`,
  )
  console.log(
    `events: ${total.eventFrames} frames received; ${total.deliveriesChecked} (run × connection) deliveries checked complete`,
  )
  console.log(`event types received: ${JSON.stringify(result.types)}`)
  console.log(
    `run duration (chat → agent_completed): p50 ${fmtMs(done.p50)}, p95 ${fmtMs(done.p95)}, p99 ${fmtMs(done.p99)}`,
  )
  for (const e of [...warm.errors, ...result.errors]) console.log(`  ! ${e}`)
  const heapGrowth = after.heapUsed - before.heapUsed
  const problems =
    total.lost + total.duplicated + total.misdelivered + total.outOfOrder + total.incomplete + notCompleted
  recordResult('soak', {
    command: commandLine('soak'),
    params: {
      runs: RUNS,
      users: USERS,
      conns: CONNS,
      concurrency: CONCURRENCY,
      toolEvery: TOOL_EVERY,
      httpUsers: HTTP_USERS,
    },
    figures: {
      ...total,
      types: result.types,
      statuses: result.statuses,
      refused: result.refused,
      runsPerSecond: round(result.runs / (elapsed / 1000), 1),
      doneMs: done,
      before,
      after,
      heapGrowthBytes: heapGrowth,
    },
    targets: [
      { name: 'lost events', value: total.lost, target: '0', met: total.lost === 0 },
      { name: 'duplicated events', value: total.duplicated, target: '0', met: total.duplicated === 0 },
      { name: 'misdelivered events', value: total.misdelivered, target: '0', met: total.misdelivered === 0 },
      { name: 'out-of-order events', value: total.outOfOrder, target: '0', met: total.outOfOrder === 0 },
      { name: 'runs without agent_completed', value: total.incomplete, target: '0', met: total.incomplete === 0 },
      { name: 'runs not completed', value: notCompleted, target: '0', met: notCompleted === 0 },
      {
        name: 'heap used before → after',
        value: `${fmtBytes(before.heapUsed)} → ${fmtBytes(after.heapUsed)} (${heapGrowth >= 0 ? '+' : ''}${fmtBytes(heapGrowth)})`,
        target: 'reported',
      },
      { name: 'rss before → after', value: `${fmtBytes(before.rss)} → ${fmtBytes(after.rss)}`, target: 'reported' },
    ],
  })
  const exitCode = problems === 0 ? 0 : 1
  console.log(
    exitCode === 0 ? '\nsoak passed: no event lost, duplicated or misdelivered' : `\nsoak FAILED: ${problems} problems`,
  )
  return exitCode
}, [() => clients.stop(), () => modelProcess.stop(), () => bs.close()])
