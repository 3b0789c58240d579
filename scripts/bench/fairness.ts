/**
 * Fairness (issue 7, benchmark 5): one user floods the model with runs; how long does another
 * user's single run wait? Measured in queue slots: how many of the flooder's model calls
 * started between the other user's request and the start of its own model call.
 *
 *   bun run bench:fairness [--flood 20] [--gen-ms 40] [--trials 3] [--slots 1] [--server-slots N]
 *
 * The scripted model behaves like Ollama with one request per model at a time (its default):
 * calls beyond `--slots` wait in arrival order inside the model, and each takes `--gen-ms`. Its
 * request log (arrival, start, whose) gives the order. The server runs with OLLAMA_SLOTS=`--slots`,
 * so with the fair scheduler (src/llm/scheduler.ts) the queue is the server's, round-robin
 * across users; without it every call goes straight to the model and waits there first come,
 * first served. The script works either way and says which it saw. `--server-slots 256` lets
 * every call through the server's queue, so the model's FIFO decides: the unfair reference.
 *
 * Per trial: the flooder sends `--flood` chats at once; after k of its model calls have started
 * (k grows per trial), the victim sends one chat. Baseline in the same run: the victim alone
 * (no flood). "FIFO would be": the flooder's calls that were waiting when the victim asked.
 * Target: the victim waits at most 1 slot (the call already in progress).
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { ChatRequestRecord } from '../../src/testing/fake-ollama'
import { WsClient } from '../../src/testing/ws-client'
import { intArg } from './lib/args'
import { printMachine } from './lib/machine'
import { fmtMs, round } from './lib/numbers'
import { commandLine, printTable, recordResult } from './lib/results'
import { runBenchmark } from './lib/run'
import { lastUserText, startBenchServer } from './lib/server'
import { registerUsersHttp } from './lib/users'

const FLOOD = intArg('flood', 20)
const GEN_MS = intArg('gen-ms', 40)
const TRIALS = Math.max(1, intArg('trials', 3))
const SLOTS = Math.max(1, intArg('slots', 1))
/** OLLAMA_SLOTS given to the server; more than the model has makes the model's FIFO the queue (a check of the check). */
const SERVER_SLOTS = Math.max(1, intArg('server-slots', SLOTS))

const schedulerFile = join(import.meta.dir, '../../src/llm/scheduler.ts')
printMachine(
  `fairness: one user floods ${FLOOD} runs, another sends 1; model serves ${SLOTS} at a time, ${GEN_MS} ms per call`,
)

/** The model's own queue: `SLOTS` calls at a time, first come first served, like Ollama. */
interface ModelCall {
  who: string
  arrivedAt: number
  startedAt?: number
}
const calls: ModelCall[] = []
let running = 0
const waiting: (() => void)[] = []
async function modelSlot(call: ModelCall) {
  if (running >= SLOTS) await new Promise<void>((resolve) => waiting.push(resolve))
  else running++
  call.startedAt = performance.now()
  setTimeout(() => {
    const next = waiting.shift()
    if (next) next()
    else running--
  }, GEN_MS)
}

const bs = await startBenchServer({
  env: {
    OLLAMA_SLOTS: String(SERVER_SLOTS),
    MAX_RUNS_PER_USER: String(FLOOD + 2),
    LLM_QUEUE_PER_USER: String(FLOOD + 2),
    LLM_QUEUE_MAX: '1000',
  },
  handler: async (req: ChatRequestRecord) => {
    const text = lastUserText(req.messages)
    const call: ModelCall = { who: /\[u:([^\]]+)\]/.exec(text)?.[1] ?? '?', arrivedAt: performance.now() }
    calls.push(call)
    await modelSlot(call)
    // The answer streams at the end of the call's time (the slot is held meanwhile).
    return { content: `answer to ${text}`, chunkSize: 64, firstChunkDelayMs: Math.max(0, GEN_MS - 2) }
  },
})
const llm = bs.server.runtime.llm as { scheduler?: unknown }
const hasScheduler = existsSync(schedulerFile) && llm.scheduler !== undefined
console.log(
  hasScheduler
    ? `fair scheduler: present (src/llm/scheduler.ts), OLLAMA_SLOTS=${SERVER_SLOTS}${SERVER_SLOTS > SLOTS ? ' (more than the model serves: its FIFO queue decides)' : ''}`
    : `fair scheduler: not found — model calls go straight to the scripted model, which queues them first come, first served`,
)

interface Trial {
  label: string
  slotsWaited: number
  waitMs: number
  fifoWouldBe: number
  queuedStatus?: string
  victimRunMs: number
  flooderRunsDone: number
  error?: string
}

const sockets: WsClient[] = []
await runBenchmark('fairness benchmark', async () => {
  const users = await registerUsersHttp(bs.url, 1 + 2 * TRIALS, 'fair', 2)
  const socketOf = async (token: string) => {
    const ws = await WsClient.connect(bs.wsUrl, token)
    sockets.push(ws)
    return ws
  }

  async function trial(
    label: string,
    flooderToken: string | undefined,
    flooderId: string | undefined,
    victimToken: string,
    victimId: string,
    startedBeforeVictim: number,
  ): Promise<Trial> {
    const flooderRuns: Promise<unknown>[] = []
    if (flooderToken) {
      const flooder = await socketOf(flooderToken)
      for (let i = 0; i < FLOOD; i++)
        flooderRuns.push(flooder.chat(`[u:${flooderId}] flood ${i}`).then((r) => flooder.completion(r.runId, 120_000)))
      // Let the flood reach the queue and `startedBeforeVictim` of its calls start.
      const deadline = performance.now() + 30_000
      while (
        calls.filter((c) => c.who === flooderId && c.startedAt !== undefined).length < startedBeforeVictim &&
        performance.now() < deadline
      )
        await Bun.sleep(1)
      await Bun.sleep(GEN_MS / 4) // mid-call
    }
    const victim = await socketOf(victimToken)
    const askedAt = performance.now()
    const flooderWaiting = calls.filter((c) => c.who === flooderId && c.startedAt === undefined).length
    const flooderQueuedInServer = flooderToken ? FLOOD - calls.filter((c) => c.who === flooderId).length : 0
    const run = await victim.chat(`[u:${victimId}] one question`)
    const events = await victim.completion(run.runId, 120_000)
    const doneAt = performance.now()
    await Promise.all(flooderRuns)
    const mine = calls.find((c) => c.who === victimId)
    if (!mine?.startedAt)
      return {
        label,
        slotsWaited: Number.NaN,
        waitMs: Number.NaN,
        fifoWouldBe: flooderWaiting + flooderQueuedInServer,
        victimRunMs: doneAt - askedAt,
        flooderRunsDone: flooderRuns.length,
        error: 'the victim’s model call never started',
      }
    const slotsWaited = calls.filter(
      (c) => c.who === flooderId && c.startedAt !== undefined && c.startedAt > askedAt && c.startedAt < mine.startedAt!,
    ).length
    const queued = events.find(
      (e) => e.type === 'agent_thinking' && typeof e.status === 'string' && e.status.startsWith('queued'),
    )
    return {
      label,
      slotsWaited,
      waitMs: mine.startedAt - askedAt,
      fifoWouldBe: flooderWaiting + flooderQueuedInServer,
      queuedStatus: queued?.status,
      victimRunMs: doneAt - askedAt,
      flooderRunsDone: flooderRuns.length,
      ...(events.at(-1)?.status !== 'completed' && {
        error: `victim run ${events.at(-1)?.status}: ${events.at(-1)?.error?.code}`,
      }),
    }
  }

  // Warm-up (the model's capability lookup, JIT), not measured.
  {
    const ws = await socketOf(users[0].token)
    await ws.completion((await ws.chat(`[u:warmup] hello`)).runId, 60_000)
  }
  const results: Trial[] = []
  results.push(await trial('baseline: victim alone', undefined, undefined, users[0].token, users[0].id, 0))
  for (let t = 0; t < TRIALS; t++) {
    const k = 1 + Math.floor((t * FLOOD) / (TRIALS + 1))
    const flooder = users[1 + 2 * t]
    const victim = users[2 + 2 * t]
    results.push(
      await trial(
        `flood ${FLOOD}, victim asks after ${k} started`,
        flooder.token,
        flooder.id,
        victim.token,
        victim.id,
        k,
      ),
    )
  }

  console.log('')
  printTable(
    results.map((r) => [
      r.label,
      Number.isNaN(r.slotsWaited) ? '—' : r.slotsWaited,
      fmtMs(r.waitMs),
      r.fifoWouldBe,
      r.queuedStatus ?? '—',
      fmtMs(r.victimRunMs),
      r.error ?? '',
    ]),
    ['trial', 'slots waited*', 'wait for model', 'FIFO would be', 'status shown to the victim', 'victim run', ''],
  )
  console.log(
    '* flooder model calls that started after the victim asked and before its call started (the call already in progress is not counted)',
  )
  const flooded = results.slice(1)
  const worst = Math.max(...flooded.map((r) => (Number.isNaN(r.slotsWaited) ? Infinity : r.slotsWaited)))
  const worstMs = Math.max(...flooded.map((r) => r.waitMs))
  const base = results[0]
  recordResult('fairness', {
    command: commandLine('bench:fairness'),
    params: {
      flood: FLOOD,
      genMs: GEN_MS,
      trials: TRIALS,
      slots: SLOTS,
      serverSlots: SERVER_SLOTS,
      scheduler: hasScheduler,
    },
    figures: {
      trials: results.map((r) => ({ ...r, waitMs: round(r.waitMs), victimRunMs: round(r.victimRunMs) })),
      worstSlots: worst,
      worstWaitMs: round(worstMs),
      baselineWaitMs: round(base.waitMs),
    },
    targets: [
      {
        name: 'victim wait, worst trial (flooder calls started first)',
        value: `${worst} slots (${fmtMs(worstMs)})`,
        target: '≤ 1 slot',
        met: worst <= 1,
      },
      {
        name: 'baseline: victim alone',
        value: `${base.slotsWaited} slots (${fmtMs(base.waitMs)})`,
        target: 'reference',
      },
      {
        name: 'FIFO would be (worst trial)',
        value: `${Math.max(...flooded.map((r) => r.fifoWouldBe))} slots`,
        target: 'reference',
      },
      {
        name: 'wait ratio: worst flooded / one model call',
        value: `${round(worstMs / GEN_MS, 2)} calls`,
        target: '≤ ~1–2',
      },
    ],
  })
  return flooded.some((r) => r.error) ? 1 : 0
}, [
  () => {
    for (const ws of sockets) ws.close()
  },
  () => bs.close(),
])
