/**
 * Scale (issue 7, benchmark 3): 1,000 concurrent authenticated WebSocket users, each running a
 * chat — lost, duplicated and misdelivered events must be 0 — and the idle memory each open
 * authenticated connection costs the server (target ≤ 20 KB).
 *
 *   bun run bench:scale [--users 1000] [--http-users 20] [--open-concurrency 50] [--slots 256]
 *
 * `--slots` is OLLAMA_SLOTS (model calls served at once; the config allows at most 256): with
 * more users than slots, the rest wait in the server's fair queue.
 *
 * Registering 1,000 users through HTTP hashes 1,000 argon2id passwords (minutes on 2 cores), so
 * `--http-users` are registered through POST /api/auth/register and the rest are created with
 * the running server's users repository and signed with its accessTokens (same rows, same JWTs).
 * The clients and the scripted model run in child processes, so the memory measured (this
 * process, after Bun.gc(true)) is the server's. Needs about users + 100 file descriptors here
 * and as many in the child (`ulimit -n`; the npm script raises it to the hard limit).
 *
 * Idle memory per connection = (memory with all sockets open and authenticated, idle −
 * memory before opening them) / users, both after full collections and after a warm-up that
 * opened and closed 50 sockets and ran 50 chats.
 */
import { intArg } from './lib/args'
import { LoadClients, startModelProcess } from './lib/load-clients'
import { machine, printMachine } from './lib/machine'
import { fmtMemory, memory } from './lib/memory'
import { fmtBytes, fmtMs, round, summarize } from './lib/numbers'
import { commandLine, recordResult } from './lib/results'
import { runBenchmark } from './lib/run'
import { startBenchServer } from './lib/server'
import { makeUsers } from './lib/users'

const USERS = intArg('users', 1000)
const HTTP_USERS = intArg('http-users', Math.min(USERS, 20))
const OPEN_CONCURRENCY = intArg('open-concurrency', 50)
const SLOTS = intArg('slots', 256)
const TARGET_BYTES = 20 * 1024

printMachine(`scale: ${USERS} concurrent authenticated WebSocket users, one chat each`)
const fdLimit = Number(machine().fdLimit)
if (Number.isFinite(fdLimit) && fdLimit < USERS + 200)
  console.log(`! ulimit -n is ${fdLimit}: raise it above ${USERS + 200} (ulimit -n 65536) or connections will fail`)

const clients = await LoadClients.spawn()
const modelProcess = await startModelProcess({ mode: 'echo', chunkSize: 4, chunkDelayMs: 1 })
const ollamaUrl = modelProcess.url
const bs = await startBenchServer({ ollamaUrl, env: { OLLAMA_SLOTS: String(SLOTS) } })
await runBenchmark('scale benchmark', async () => {
  const users = await makeUsers(bs, USERS, { httpCount: HTTP_USERS, prefix: 'scale' })

  // Warm-up: open, chat and close with a few users, so lazy state is not counted per connection.
  const warmUsers = users.slice(0, Math.min(50, USERS))
  await clients.open(bs.wsUrl, warmUsers, 1, OPEN_CONCURRENCY)
  await clients.chat(warmUsers.map((u) => ({ userId: u.id, runs: 1 })))
  await clients.closeConnections()
  await Bun.sleep(2000) // idle long enough for the allocator to return freed pages

  const before = await memory()
  console.log(`server before opening: ${fmtMemory(before)}`)
  const opened = await clients.open(bs.wsUrl, users, 1, OPEN_CONCURRENCY)
  console.log(
    `opened ${opened.opened} authenticated connections in ${fmtMs(opened.ms)} (${opened.failed} failed${opened.errors.length ? `: ${opened.errors.join('; ')}` : ''}); server registry: ${bs.server.runtime.registry.size} connections of ${bs.server.runtime.registry.users} users`,
  )
  await Bun.sleep(2000)
  const idle = await memory()
  console.log(`server with ${opened.opened} idle connections: ${fmtMemory(idle)}`)
  const n = Math.max(1, opened.opened)
  const perConn = {
    rss: (idle.rss - before.rss) / n,
    heapUsed: (idle.heapUsed - before.heapUsed) / n,
    heapSize: (idle.heapSize - before.heapSize) / n,
    objects: (idle.objects - before.objects) / n,
  }
  console.log(
    `idle memory per connection: rss ${fmtBytes(perConn.rss)}, heap used ${fmtBytes(perConn.heapUsed)}, heap size ${fmtBytes(perConn.heapSize)}, ${round(perConn.objects, 1)} objects`,
  )

  // Every user runs one chat, all at once. RSS is sampled every 250 ms meanwhile (no collection
  // forced: the peak is what the machine has to give), with the model queue's depth.
  const started = performance.now()
  let peakRss = 0
  let peakQueued = 0
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss())
    peakQueued = Math.max(peakQueued, bs.server.runtime.llm.scheduler.queued)
  }, 250)
  const result = await clients.chat(
    users.map((u) => ({ userId: u.id, runs: 1 })),
    { timeoutMs: 600_000 },
  )
  clearInterval(sampler)
  peakRss = Math.max(peakRss, process.memoryUsage.rss())
  const elapsed = performance.now() - started
  const completedRuns = result.statuses.completed ?? 0
  const framesPerRun = result.eventFrames / Math.max(1, result.runs)
  const waitingKiB = (peakRss - idle.rss) / 1024 / Math.max(1, peakQueued)
  const done = summarize(result.doneMs)
  const first = summarize(result.firstDeltaMs)
  console.log(
    `\n${result.runs} runs (${JSON.stringify(result.statuses)}) in ${fmtMs(elapsed)}; ${result.eventFrames} events received; ${result.deliveriesChecked} deliveries checked; ` +
      `${result.refused} chats refused over a cap and retried`,
  )
  console.log(
    `chat → first message_delta p50 ${fmtMs(first.p50)}, p95 ${fmtMs(first.p95)}; chat → agent_completed p50 ${fmtMs(done.p50)}, p95 ${fmtMs(done.p95)}, max ${fmtMs(done.max)}`,
  )
  console.log(`event types received: ${JSON.stringify(result.types)}`)
  console.log(
    `frames sent per run: ${round(framesPerRun, 2)} (${result.eventFrames} frames, ${result.runs} runs, ${completedRuns} completed)`,
  )
  console.log(
    `server RSS peak during the chats: ${fmtBytes(peakRss)} (target ≤ 1 GiB); up to ${peakQueued} runs waited for a model slot at once: ≤ ${fmtBytes(waitingKiB * 1024)} of the rise over idle per waiting run`,
  )
  for (const e of result.errors) console.log(`  ! ${e}`)
  const busy = await memory()
  console.log(`server after the chats (connections still open): ${fmtMemory(busy)}`)

  await clients.closeConnections()
  await Bun.sleep(500)
  const closed = await memory()
  console.log(
    `server after closing them: ${fmtMemory(closed)} (registry: ${bs.server.runtime.registry.size} connections)`,
  )

  const notCompleted = result.runs - (result.statuses.completed ?? 0)
  const problems =
    result.lost +
    result.duplicated +
    result.misdelivered +
    result.outOfOrder +
    result.incomplete +
    notCompleted +
    opened.failed
  recordResult('scale', {
    command: commandLine('bench:scale'),
    params: {
      users: USERS,
      httpUsers: HTTP_USERS,
      mintedUsers: USERS - HTTP_USERS,
      openConcurrency: OPEN_CONCURRENCY,
      slots: SLOTS,
    },
    figures: {
      opened: opened.opened,
      openFailed: opened.failed,
      openMs: round(opened.ms),
      runs: result.runs,
      statuses: result.statuses,
      lost: result.lost,
      duplicated: result.duplicated,
      misdelivered: result.misdelivered,
      outOfOrder: result.outOfOrder,
      incomplete: result.incomplete,
      eventFrames: result.eventFrames,
      eventTypes: result.types,
      elapsedMs: round(elapsed),
      doneMs: done,
      firstDeltaMs: first,
      memory: { before, idle, busy, closed },
      peakRss,
      peakQueued,
      framesPerRun: round(framesPerRun, 2),
      perConnection: perConn,
    },
    targets: [
      {
        name: 'connections opened',
        value: `${opened.opened} / ${USERS}`,
        target: `${USERS}`,
        met: opened.opened === USERS,
      },
      { name: 'lost events', value: result.lost, target: '0', met: result.lost === 0 },
      { name: 'duplicated events', value: result.duplicated, target: '0', met: result.duplicated === 0 },
      { name: 'misdelivered events', value: result.misdelivered, target: '0', met: result.misdelivered === 0 },
      {
        name: 'runs incomplete / not completed',
        value: `${result.incomplete} / ${notCompleted}`,
        target: '0 / 0',
        met: result.incomplete === 0 && notCompleted === 0,
      },
      {
        name: 'server RSS peak during the chats',
        value: fmtBytes(peakRss),
        target: '≤ 1 GiB',
        met: peakRss <= 1024 ** 3,
      },
      { name: 'frames sent per run', value: round(framesPerRun, 2), target: 'reported' },
      {
        name: 'idle RSS per connection',
        value: fmtBytes(perConn.rss),
        target: '≤ 20 KB',
        met: perConn.rss <= TARGET_BYTES,
      },
      {
        name: 'idle heap per connection',
        value: fmtBytes(perConn.heapUsed),
        target: '≤ 20 KB',
        met: perConn.heapUsed <= TARGET_BYTES,
      },
    ],
  })
  return problems === 0 ? 0 : 1
}, [() => clients.stop(), () => modelProcess.stop(), () => bs.close()])
