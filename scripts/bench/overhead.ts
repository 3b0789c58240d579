/**
 * Server overhead (issue 7, benchmark 2): time from sending the `chat` frame to the first
 * `message_delta`, minus the scripted model's own time to first chunk, with 100 users chatting.
 *
 *   bun run bench:overhead [--users 100] [--rounds 5] [--ttfc 20] [--think 1000-3000] [--chars 200] [--chunk 8] [--delay 10]
 *
 * The scripted model (in a process of its own, outside the server's, as Ollama would be) waits
 * `--ttfc` ms before its first chunk, then streams `--chars` characters in `--chunk`-character
 * chunks `--delay` ms apart.
 *
 *  1. baseline: the same model calls made directly with the `ollama` client from this process
 *     (same concurrency: one loop per user, same think times) — the model's own time to first
 *     content chunk. Measured before and after the server phase.
 *  2. steady: every user chats `--rounds` times in its own thread (history is read), thinking
 *     `--think` ms (uniform) between an answer and the next question. Latency is measured in
 *     the clients: chat frame sent → first message_delta received (the server may send
 *     agent_started / agent_thinking before it).
 *  3. burst: every user sends one chat at the same instant (informational worst case).
 * Overhead = server percentile − baseline percentile. Targets: p50 ≤ 5 ms, p95 ≤ 20 ms (steady).
 */
import { Ollama } from 'ollama'
import { arg, intArgs } from './lib/args'
import { LoadClients, echoModel, startModelProcess } from './lib/load-clients'
import { printMachine } from './lib/machine'
import { fmtMs, round, summarize, type Summary } from './lib/numbers'
import { commandLine, printTable, recordResult } from './lib/results'
import { runBenchmark } from './lib/run'
import { startBenchServer } from './lib/server'
import { makeUsers } from './lib/users'

const {
  users: USERS,
  rounds: ROUNDS,
  ttfc: TTFC,
  chars: CHARS,
  chunk: CHUNK,
  delay: DELAY,
} = intArgs({ users: 100, rounds: 5, ttfc: 20, chars: 200, chunk: 8, delay: 10 })
const THINK = (arg('think', '1000-3000').split('-').map(Number) as [number, number]).map((n) =>
  Number.isFinite(n) ? n : 0,
) as [number, number]
if (THINK.length < 2) THINK[1] = THINK[0]

printMachine(
  `server overhead: ${USERS} users × ${ROUNDS} chats, model time to first chunk ${TTFC} ms, think ${THINK[0]}–${THINK[1]} ms`,
)
const clients = await LoadClients.spawn()
const modelProcess = await startModelProcess(echoModel({ ttfc: TTFC, chunk: CHUNK, delay: DELAY, chars: CHARS }))
const ollamaUrl = modelProcess.url
const bs = await startBenchServer({ ollamaUrl })
const model = bs.server.services.config.ollamaModel

/** The model's own time to first content chunk, through the same `ollama` client the server uses. */
async function baseline(label: string): Promise<number[]> {
  const samples: number[] = []
  await Promise.all(
    Array.from({ length: USERS }, async (_, u) => {
      await Bun.sleep(Math.random() * THINK[1]) // same stagger as the server phase
      for (let r = 0; r < ROUNDS; r++) {
        const client = new Ollama({ host: ollamaUrl })
        const started = performance.now()
        const stream = await client.chat({
          model,
          messages: [{ role: 'user', content: `[u:baseline${u}] run ${r}` }],
          stream: true,
        })
        let first: number | undefined
        for await (const part of stream) if (first === undefined && part.message?.content) first = performance.now()
        samples.push(first! - started)
        await Bun.sleep(THINK[0] + Math.random() * (THINK[1] - THINK[0]))
      }
    }),
  )
  const s = summarize(samples)
  console.log(
    `baseline (${label}): model time to first chunk p50 ${fmtMs(s.p50)}, p95 ${fmtMs(s.p95)}, p99 ${fmtMs(s.p99)} (${s.n} calls)`,
  )
  return samples
}

const row = (label: string, s: Summary) => [label, s.n, fmtMs(s.p50), fmtMs(s.p95), fmtMs(s.p99), fmtMs(s.max)]
await runBenchmark('overhead benchmark', async () => {
  const users = await makeUsers(bs, USERS, { httpCount: Math.min(USERS, 20), prefix: 'overhead' })
  const opened = await clients.open(bs.wsUrl, users, 1)
  if (opened.failed) throw new Error(`could not open connections: ${opened.errors.join('; ')}`)
  // Warm-up: one chat per user (JIT, statement paths, the model's capability lookup).
  await clients.chat(users.map((u) => ({ userId: u.id, runs: 1 })))

  const base1 = await baseline('before')
  const steady = await clients.chat(
    users.map((u) => ({ userId: u.id, runs: ROUNDS, reuseThread: true, thinkMs: THINK, staggerMs: THINK[1] })),
    { timeoutMs: 300_000 },
  )
  const base2 = await baseline('after')
  const burst = await clients.chat(
    users.map((u) => ({ userId: u.id, runs: 1 })),
    { timeoutMs: 300_000 },
  )

  const base = summarize([...base1, ...base2])
  const server = summarize(steady.firstDeltaMs)
  const serverBurst = summarize(burst.firstDeltaMs)
  const accept = summarize(steady.acceptMs)
  const overhead = { p50: server.p50 - base.p50, p95: server.p95 - base.p95, p99: server.p99 - base.p99 }
  const overheadBurst = {
    p50: serverBurst.p50 - base.p50,
    p95: serverBurst.p95 - base.p95,
    p99: serverBurst.p99 - base.p99,
  }
  // Per run: its latency minus the model's median time to first chunk.
  const perRun = summarize(steady.firstDeltaMs.map((v) => v - base.p50))

  console.log('')
  printTable(
    [
      row('model alone (baseline)', base),
      row('server: chat → run_accepted', accept),
      row('server: chat → first message_delta', server),
      row('  overhead per run (− baseline p50)', perRun),
      row('burst: chat → first message_delta', serverBurst),
    ],
    ['', 'n', 'p50', 'p95', 'p99', 'max'],
  )
  console.log(
    `steady runs: ${steady.runs} ${JSON.stringify(steady.statuses)}, lost ${steady.lost}, duplicated ${steady.duplicated}, misdelivered ${steady.misdelivered}; burst: ${burst.runs} ${JSON.stringify(burst.statuses)}`,
  )
  for (const e of [...steady.errors, ...burst.errors]) console.log(`  ! ${e}`)

  recordResult('overhead', {
    command: commandLine('bench:overhead'),
    params: { users: USERS, rounds: ROUNDS, ttfc: TTFC, chars: CHARS, chunk: CHUNK, delay: DELAY, think: THINK },
    figures: {
      baseline: base,
      server,
      accept,
      perRun,
      overhead: mapRound(overhead),
      burst: serverBurst,
      overheadBurst: mapRound(overheadBurst),
      runs: steady.runs,
      statuses: steady.statuses,
    },
    targets: [
      {
        name: 'overhead p50 (server p50 − model p50)',
        value: fmtMs(overhead.p50),
        target: '≤ 5 ms',
        met: overhead.p50 <= 5,
      },
      {
        name: 'overhead p95 (server p95 − model p95)',
        value: fmtMs(overhead.p95),
        target: '≤ 20 ms',
        met: overhead.p95 <= 20,
      },
      { name: 'overhead p99', value: fmtMs(overhead.p99), target: 'reported' },
      {
        name: 'burst overhead p50 / p95 / p99',
        value: `${fmtMs(overheadBurst.p50)} / ${fmtMs(overheadBurst.p95)} / ${fmtMs(overheadBurst.p99)}`,
        target: `reported (all ${USERS} at once)`,
      },
    ],
  })
}, [() => clients.stop(), () => modelProcess.stop(), () => bs.close()])

function mapRound(o: Record<string, number>) {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round(v)]))
}
