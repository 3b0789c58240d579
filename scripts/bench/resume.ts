/**
 * Durable runs after a crash (PROTOCOL.md §9, issue 19): N runs mid-answer, the server process
 * killed with SIGKILL, a new process started on the same data folder. Measures
 *
 *  - process start → listening, and process start → the first run resumed;
 *  - per run, from "listening": when its `agent_thinking {status:"resumed"}` was appended and
 *    when its first continued answer text was (server timestamps of the stored events), and when
 *    a client that reconnects right after listening is back in the live stream (`resume`);
 *  - how many runs completed with their whole answer (target: all), p95 resume ≤ 2 s.
 *
 *   bun run bench:resume [--runs 100] [--users 10] [--chars 240] [--chunk-ms 20]
 *
 * The server is the real entry point as a child process (tests/support/child-server.ts); the
 * scripted model and the clients live in this process. Nothing here asserts: it prints figures
 * and appends them to scripts/bench/results.jsonl.
 */
import { rmSync } from 'node:fs'
import { spawnServer } from '../../tests/support/child-server'
import { startFakeOllama } from '../../src/testing/fake-ollama'
import { WsClient, type Frame } from '../../src/testing/ws-client'
import { intArg } from './lib/args'
import { printMachine } from './lib/machine'
import { fmtMs, summarize } from './lib/numbers'
import { commandLine, recordResult } from './lib/results'
import { registerUsersHttp } from './lib/users'

const runsWanted = intArg('runs', 100)
const usersWanted = intArg('users', 10)
const chars = intArg('chars', 240)
const chunkMs = intArg('chunk-ms', 20)
const perUser = Math.ceil(runsWanted / usersWanted)
const ANSWER = Array.from({ length: Math.ceil(chars / 6) }, (_, i) => `w${String(i).padStart(4, '0')}`)
  .join(' ')
  .slice(0, chars)

printMachine('Durable runs: resume after kill -9')
console.log(
  `${runsWanted} runs (${usersWanted} users × ${perUser}), answers of ${ANSWER.length} chars, 2 chars every ${chunkMs} ms\n`,
)

const ollama = await startFakeOllama({ handler: () => ({ content: ANSWER, chunkSize: 2, chunkDelayMs: chunkMs }) })
const env = {
  JWT_SECRET: 'bench-resume-secret-that-is-long-enough-0123456789',
  OLLAMA_HOST: ollama.url,
  MAX_RUNS_PER_USER: String(perUser),
  OLLAMA_SLOTS: String(runsWanted),
  LOG_LEVEL: 'info',
}
const first = spawnServer(env)
const dir = first.dir
let second: ReturnType<typeof spawnServer> | undefined
try {
  const base1 = await first.url()
  const users = await registerUsersHttp(base1, usersWanted, 'resume')
  const sockets = await Promise.all(users.map((u) => WsClient.connect(base1.replace('http', 'ws') + '/ws', u.token)))
  const runs = (
    await Promise.all(
      sockets.flatMap((ws, i) =>
        Array.from({ length: perUser }, (_, r) =>
          ws.chat(`user ${i} run ${r}`).then((run) => ({ ...run, user: users[i], ws })),
        ),
      ),
    )
  ).slice(0, runsWanted)
  await Promise.all(
    runs.map((run) => run.ws.until(() => run.ws.eventsOf(run.runId).some((e) => e.type === 'message_delta'), 60_000)),
  )
  first.proc.kill('SIGKILL')
  await first.proc.exited
  const seen = new Map(runs.map((run) => [run.runId, run.ws.eventsOf(run.runId).at(-1)!.seq as number]))
  for (const ws of sockets) ws.close()
  const finishedBeforeKill = runs.filter((run) =>
    run.ws.eventsOf(run.runId).some((e) => e.type === 'agent_completed'),
  ).length

  const startedAt = Date.now()
  second = spawnServer(env, dir)
  const base2 = await second.url()
  const listenLine = JSON.parse(second.lines.find((l) => l.includes('"url"'))!)
  const listenedAt = Date.parse(listenLine.ts)

  // Clients come back at once and resume from what they saw; when is each one live again?
  const backLive: number[] = []
  const again = await Promise.all(users.map((u) => WsClient.connect(base2.replace('http', 'ws') + '/ws', u.token)))
  await Promise.all(
    runs.map(async (run) => {
      const ws = again[users.indexOf(run.user)]
      ws.send({ type: 'resume', runId: run.runId, afterSeq: seen.get(run.runId)! })
      await ws.waitFor((f: Frame) => f.runId === run.runId && f.seq > seen.get(run.runId)!, 30_000)
      backLive.push(Date.now() - listenedAt)
    }),
  )
  await Promise.all(runs.map((run) => again[users.indexOf(run.user)].completion(run.runId, 60_000)))
  for (const ws of again) ws.close()

  // The stored journals: when each run was resumed and continued, and how it ended.
  const resumedAt: number[] = []
  const continuedAt: number[] = []
  let completed = 0
  for (const run of runs) {
    const events = (
      (await (
        await fetch(`${base2}/api/runs/${run.runId}/events?after=0`, {
          headers: { authorization: `Bearer ${run.user.token}` },
        })
      ).json()) as { events: Frame[] }
    ).events
    const resumed = events.find((e) => e.type === 'agent_thinking' && e.status === 'resumed')
    const continued = resumed && events.find((e) => e.type === 'message_delta' && e.seq > resumed.seq)
    if (resumed) resumedAt.push(Date.parse(resumed.ts) - listenedAt)
    if (continued) continuedAt.push(Date.parse(continued.ts) - listenedAt)
    const last = events.at(-1)
    const text = events
      .filter((e) => e.type === 'message_delta')
      .map((e) => e.delta)
      .join('')
    if (
      last?.type === 'agent_completed' &&
      last.status === 'completed' &&
      last.message.content === ANSWER &&
      text === ANSWER
    )
      completed++
  }
  const listenMs = listenedAt - startedAt
  const firstResumedMs = listenMs + Math.min(...resumedAt)
  const resumed = summarize(resumedAt)
  const continued = summarize(continuedAt)
  const live = summarize(backLive)
  console.log(
    `process start → listening: ${fmtMs(listenMs)}; → first run resumed: ${fmtMs(firstResumedMs)} (runs are resumed before the server listens)`,
  )
  console.log(
    `runs finished before the kill: ${finishedBeforeKill}; resumed: ${resumedAt.length}; completed with the whole answer: ${completed}/${runs.length}`,
  )
  console.log(
    `from listening (negative = before it): resumed event p50 ${fmtMs(resumed.p50)} p95 ${fmtMs(resumed.p95)}; first continued text p50 ${fmtMs(continued.p50)} p95 ${fmtMs(continued.p95)} max ${fmtMs(continued.max)}; client back in the live stream p50 ${fmtMs(live.p50)} p95 ${fmtMs(live.p95)}`,
  )
  recordResult('resume', {
    command: commandLine('bench:resume'),
    params: { runs: runs.length, users: usersWanted, chars: ANSWER.length, chunkMs },
    figures: {
      listenMs,
      firstResumedMs,
      resumedFromListen: resumed,
      continuedFromListen: continued,
      clientLiveFromListen: live,
      completed,
      finishedBeforeKill,
    },
    targets: [
      {
        name: 'runs completed with the whole answer',
        value: `${completed}/${runs.length}`,
        target: 'all',
        met: completed === runs.length,
      },
      {
        name: 'p95 first continued text after listening',
        value: fmtMs(continued.p95),
        target: '≤ 2 s',
        met: continued.p95 <= 2000,
      },
      { name: 'p95 client back live after listening', value: fmtMs(live.p95), target: '≤ 2 s', met: live.p95 <= 2000 },
      { name: 'process start → first run resumed', value: fmtMs(firstResumedMs), target: 'informational' },
    ],
  })
} finally {
  if (second) {
    second.proc.kill('SIGTERM')
    await second.proc.exited
  }
  if (first.proc.exitCode === null) first.proc.kill('SIGKILL')
  await ollama.close()
  rmSync(dir, { recursive: true, force: true })
}
