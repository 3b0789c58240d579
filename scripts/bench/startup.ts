/**
 * Start-up (issue 20): time from `bun run start` to the first answered request, with a large
 * database against an empty one, alternated in the same run.
 *
 *   bun run bench:startup [--messages 300000] [--trials 3]
 *   bun run bench:startup --messages 2400000    # ≈ 1 GB database (the size; the fill takes ~1 min)
 *
 * The large database is the bench:data fixture (scripts/bench/history-fixture.ts): 1,000 users,
 * one heavy user with a tenth as many threads as --messages / 100, the rest light. Each trial
 * spawns the real entry point (`bun run start`) on the file and polls GET /health every 5 ms;
 * the figure is spawn → first 200. The model host is not reachable (start-up must not wait for it).
 */
import { mkdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { openDatabase } from '../../src/db/client'
import { fill } from './history-fixture'
import { intArg } from './lib/args'
import { load, printMachine } from './lib/machine'
import { fmtBytes, fmtMs, round, summarize } from './lib/numbers'
import { commandLine, printTable, recordResult } from './lib/results'
import { runBenchmark } from './lib/run'
import { benchTempDir } from './lib/temp-dir'

const MESSAGES = intArg('messages', 300_000)
const TRIALS = intArg('trials', 3)
const TARGET_MS = 1000
const ROOT = join(import.meta.dir, '..', '..')

printMachine(
  `start-up: bun run start → first answered request, ${MESSAGES.toLocaleString('en-US')} messages against an empty database`,
)
const loadStart = load()
const dir = benchTempDir('bench-startup-')

async function freePort(): Promise<number> {
  const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response() })
  const port = server.port!
  server.stop(true)
  return port
}

/** Spawn → first 200 from GET /health, in ms. */
async function startOnce(dataDir: string): Promise<number> {
  const port = await freePort()
  const started = performance.now()
  const child = Bun.spawn(['bun', 'run', 'start'], {
    cwd: ROOT,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      DATA_DIR: dataDir,
      DATABASE_URL: `file:${join(dataDir, 'chat.db')}`,
      JWT_SECRET: 'bench-startup-secret-0123456789abcdef-0123456789',
      OLLAMA_HOST: 'http://127.0.0.1:9',
      LOG_LEVEL: 'error',
    },
    stdout: 'ignore',
    stderr: 'inherit',
  })
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`)
      const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
        (r) => r.ok,
        () => false,
      )
      if (ok) return performance.now() - started
      await Bun.sleep(5)
    }
  } finally {
    child.kill('SIGTERM')
    await child.exited
  }
}

await runBenchmark('start-up benchmark', async () => {
  const emptyDir = join(dir, 'empty')
  const bigDir = join(dir, 'big')
  mkdirSync(emptyDir)
  mkdirSync(bigDir)
  ;(await openDatabase(`file:${join(emptyDir, 'chat.db')}`)).close()
  const db = await openDatabase(`file:${join(bigDir, 'chat.db')}`)
  const fillStarted = performance.now()
  const heavyMessages = Math.round(MESSAGES / 3)
  const lightMessages = 20
  const lightThreads = Math.max(1, Math.round((MESSAGES - heavyMessages) / 999 / lightMessages))
  await fill(db, {
    users: 1000,
    heavyThreads: Math.max(1, Math.round(heavyMessages / 100)),
    heavyMessages,
    lightThreads,
    lightMessages,
  })
  db.close()
  const bytes = statSync(join(bigDir, 'chat.db')).size
  console.log(`large database: ${fmtBytes(bytes)} in ${fmtMs(performance.now() - fillStarted)}`)

  const empty: number[] = []
  const big: number[] = []
  await startOnce(emptyDir) // warm the runtime's own caches (transpiler, file cache)
  for (let i = 0; i < TRIALS; i++) {
    empty.push(await startOnce(emptyDir))
    big.push(await startOnce(bigDir))
  }
  const e = summarize(empty)
  const b = summarize(big)
  printTable(
    [
      ['empty database', ...empty.map(fmtMs), fmtMs(e.p50)],
      [`${fmtBytes(bytes)} database`, ...big.map(fmtMs), fmtMs(b.p50)],
    ],
    ['', ...empty.map((_, i) => `trial ${i + 1}`), 'median'],
  )
  console.log(
    `start-up with the large database: median ${fmtMs(b.p50)} (×${round(b.p50 / e.p50, 2)} of the empty one; target ≤ ${TARGET_MS} ms)`,
  )
  recordResult('startup', {
    command: commandLine('bench:startup'),
    params: { messages: MESSAGES, trials: TRIALS },
    figures: { bytes, empty, big, loadStart },
    targets: [
      {
        name: 'bun run start → first answered request',
        value: fmtMs(b.p50),
        target: `≤ ${TARGET_MS} ms`,
        met: b.p50 <= TARGET_MS,
      },
    ],
  })
}, [() => rmSync(dir, { recursive: true, force: true })])
