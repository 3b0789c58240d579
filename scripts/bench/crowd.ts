/**
 * A crowd at once (issue 20): `--users` users send a chat at the same instant; how much later
 * than the model alone does each one's first answer text arrive?
 *
 *   bun run bench:crowd [--users 100] [--trials 5] [--ttfc 20] [--trace]
 *
 * Each trial has two halves, alternated: the model alone (the same `ollama` client the server
 * uses, `--users` streaming calls started at once from this process), then the server (every
 * user sends `chat` over its WebSocket at once; first `message_delta` measured in the client
 * process). Overhead = server percentile − model-alone percentile, per trial; the medians over
 * the trials are reported. The scripted model waits `--ttfc` ms before its first chunk and runs
 * in a process of its own. `--trace` prints, for the last server trial, where each run's time
 * went inside the server (journal created → model call asked → first chunk → first delta stored
 * and published).
 */
import { Ollama } from 'ollama'
import { intArg } from './lib/args'
import { LoadClients, startModelProcess } from './lib/load-clients'
import { load, printMachine } from './lib/machine'
import { fmtMs, round, summarize } from './lib/numbers'
import { commandLine, printTable, recordResult } from './lib/results'
import { startBenchServer } from './lib/server'
import { makeUsers } from './lib/users'

const USERS = intArg('users', 100)
const TRIALS = intArg('trials', 5)
const TTFC = intArg('ttfc', 20)
const TRACE = process.argv.includes('--trace')
const TARGET_P95 = 25

printMachine(
  `crowd: ${USERS} users start a chat at the same instant (model first chunk after ${TTFC} ms), ${TRIALS} trials`,
)
const loadStart = load()
const clients = await LoadClients.spawn()
const modelProcess = await startModelProcess({ mode: 'echo', chunkSize: 8, chunkDelayMs: 5, firstChunkDelayMs: TTFC })
const bs = await startBenchServer({ ollamaUrl: modelProcess.url })
const model = bs.env.OLLAMA_MODEL ?? bs.server.services.config.ollamaModel

/** Server-side trace: per user (one run each per trial), performance.now() of each step. */
interface Trace {
  started?: number
  deltaAppended?: number
  startedPublished?: number
  deltaPublished?: number
}
const trace = new Map<string, Trace>()
if (TRACE) {
  const stamp = (userId: string, key: keyof Trace) => {
    const t = trace.get(userId) ?? {}
    trace.set(userId, t)
    t[key] ??= performance.now()
  }
  const persister = bs.server.runtime.runs.persister
  const add = persister.add.bind(persister)
  persister.add = (row, onStored) => {
    if (row.type === 'agent_started') stamp(row.userId, 'started')
    if (row.type === 'message_delta') stamp(row.userId, 'deltaAppended')
    add(row, onStored)
  }
  const bus = bs.server.runtime.bus
  const publish = bus.publish.bind(bus)
  bus.publish = (userId, entry) => {
    if (entry.event.type === 'agent_started') stamp(userId, 'startedPublished')
    if (entry.event.type === 'message_delta') stamp(userId, 'deltaPublished')
    publish(userId, entry)
  }
}

async function modelAlone(): Promise<number[]> {
  return Promise.all(
    Array.from({ length: USERS }, async (_, u) => {
      const client = new Ollama({ host: modelProcess.url })
      const started = performance.now()
      const stream = await client.chat({
        model,
        messages: [{ role: 'user', content: `[u:crowd${u}] hello` }],
        stream: true,
      })
      let first: number | undefined
      for await (const part of stream) if (first === undefined && part.message?.content) first = performance.now()
      return first! - started
    }),
  )
}

let exitCode = 0
try {
  const users = await makeUsers(bs, USERS, { httpCount: Math.min(USERS, 10), prefix: 'crowd' })
  const opened = await clients.open(bs.wsUrl, users, 1)
  if (opened.failed) throw new Error(`could not open connections: ${opened.errors.join('; ')}`)
  await clients.chat(users.map((u) => ({ userId: u.id, runs: 1 }))) // warm-up
  await modelAlone()

  const rows: (string | number)[][] = []
  const overheads: { p50: number; p95: number }[] = []
  const cpuPerRuns: number[] = []
  let lost = 0
  let duplicated = 0
  let misdelivered = 0
  for (let trial = 1; trial <= TRIALS; trial++) {
    const base = summarize(await modelAlone())
    await Bun.sleep(200)
    trace.clear()
    const cpuBefore = process.cpuUsage()
    const result = await clients.chat(
      users.map((u) => ({ userId: u.id, runs: 1 })),
      { timeoutMs: 120_000 },
    )
    // This process is the server (clients and model run in their own): its CPU per run.
    const cpu = process.cpuUsage(cpuBefore)
    const cpuPerRun = (cpu.user + cpu.system) / 1000 / USERS
    cpuPerRuns.push(cpuPerRun)
    lost += result.lost
    duplicated += result.duplicated
    misdelivered += result.misdelivered
    const server = summarize(result.firstDeltaMs)
    const overhead = { p50: server.p50 - base.p50, p95: server.p95 - base.p95 }
    overheads.push(overhead)
    rows.push([
      trial,
      fmtMs(base.p50),
      fmtMs(base.p95),
      fmtMs(server.p50),
      fmtMs(server.p95),
      fmtMs(overhead.p50),
      fmtMs(overhead.p95),
      fmtMs(cpuPerRun),
    ])
    await Bun.sleep(200)
  }
  printTable(rows, [
    'trial',
    'model alone p50',
    'p95',
    'server first delta p50',
    'p95',
    'overhead p50',
    'overhead p95',
    'server CPU per run',
  ])
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const p50 = median(overheads.map((o) => o.p50))
  const p95 = median(overheads.map((o) => o.p95))
  console.log(
    `\nfirst-delta overhead, median of ${TRIALS} trials: p50 ${fmtMs(p50)}, p95 ${fmtMs(p95)} (target p95 ≤ ${TARGET_P95} ms: ${p95 <= TARGET_P95 ? 'met' : 'MISSED'})`,
  )
  console.log(`server CPU per run (median of trials): ${fmtMs(median(cpuPerRuns))}`)
  console.log(`lost ${lost}, duplicated ${duplicated}, misdelivered ${misdelivered}`)
  if (lost + duplicated + misdelivered > 0) exitCode = 1

  if (TRACE && trace.size > 0) {
    const runs = [...trace.values()].filter(
      (t) => t.started && t.deltaAppended && t.startedPublished && t.deltaPublished,
    ) as Required<Trace>[]
    const t0 = Math.min(...runs.map((t) => t.started))
    const step = (f: (t: Required<Trace>) => number) => summarize(runs.map(f))
    const show = (label: string, s: ReturnType<typeof summarize>) => [
      label,
      s.n,
      fmtMs(s.p50),
      fmtMs(s.p95),
      fmtMs(s.max),
    ]
    console.log('\nlast trial, inside the server:')
    printTable(
      [
        show(
          'first run started → this run started (agent_started appended)',
          step((t) => t.started - t0),
        ),
        show(
          'agent_started appended → stored and published',
          step((t) => t.startedPublished - t.started),
        ),
        show(
          'agent_started appended → first delta appended (model)',
          step((t) => t.deltaAppended - t.started),
        ),
        show(
          'first delta appended → stored and published',
          step((t) => t.deltaPublished - t.deltaAppended),
        ),
      ],
      ['step', 'n', 'p50', 'p95', 'max'],
    )
  }
  recordResult('crowd', {
    command: commandLine('crowd'),
    params: { users: USERS, trials: TRIALS, ttfc: TTFC },
    figures: {
      overheadP50: round(p50),
      overheadP95: round(p95),
      cpuPerRunMs: round(median(cpuPerRuns)),
      trials: overheads.map((o) => ({ p50: round(o.p50), p95: round(o.p95) })),
      lost,
      duplicated,
      misdelivered,
      loadStart,
    },
    targets: [
      {
        name: 'crowd first-delta overhead p95',
        value: fmtMs(p95),
        target: `≤ ${TARGET_P95} ms`,
        met: p95 <= TARGET_P95,
      },
    ],
  })
} catch (error) {
  console.error(error)
  exitCode = 1
} finally {
  await clients.stop()
  await bs.close()
  await modelProcess.stop()
}
process.exit(exitCode)
