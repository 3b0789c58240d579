/**
 * Event fan-out (issue 7, benchmark 1): run events per second delivered to WebSocket clients
 * through the server's path versus a bare Bun.serve WebSocket sending the same frames to the
 * same number of clients.
 *
 *   bun run bench:fanout [--users 50] [--conns 4] [--runs 4] [--rounds 4] [--chars 2000] [--chunk 2]
 *
 *   [--trials 5]
 *
 * Three phases, the same users and connections (clients in a child process, counting frames):
 *  A. end to end: every user runs `--runs` chats at once, `--rounds` times; the scripted model
 *     streams `--chars` characters in `--chunk`-character chunks with no delay (it runs in a
 *     process of its own, outside the server's, as Ollama would). Events go
 *     runner → journal (seq, group-commit persistence) → bus → registry → Connection.send to
 *     every connection of the owner. The frames published on the bus are recorded.
 *  B. journal → socket: the recorded events are appended again through real RunJournals (real
 *     persister and database rows, the server's bus, registry and connections), without the
 *     model, the ollama client and the runner; paced in rounds (one event per run per tick).
 *  C. bare baseline: a plain Bun.serve WebSocket server sends the recorded frames (same
 *     strings, so same sizes) to the same clients, paced the same way.
 *  B'. as B, through a persister given no `deliverBatch`, so every frame is its own socket
 *     write: what the registry's corked batch writes (src/ws/registry.ts) gain.
 *  M. the model stream alone: as many model calls as A made, as many at once, read in this
 *     process through the same `ollama` client the server uses and nothing else. Its runs/s and
 *     CPU per call bound A from above: what A would reach if the server's own work were free.
 * B, B' and C run `--trials` times, alternated; their medians are compared.
 * Figure: frames received at the clients / (last frame − first frame). Targets: A ≥ 500 runs/s
 * and A ≥ 20 % of C.
 */
import type { ServerWebSocket } from 'bun'
import { Ollama } from 'ollama'
import type { JournalEntry } from '../../src/runs/journal'
import { intArgs } from './lib/args'
import { type Counters, LoadClients, startModelProcess } from './lib/load-clients'
import { describeFrames, frameFigures, frameRate } from './lib/frames'
import { printMachine } from './lib/machine'
import { fmtMs, fmtRate, round } from './lib/numbers'
import { commandLine, recordResult } from './lib/results'
import { runBenchmark } from './lib/run'
import { startBenchServer } from './lib/server'
import { type BenchUser, makeUsers } from './lib/users'

const {
  users: USERS,
  conns: CONNS,
  runs: RUNS,
  rounds: ROUNDS,
  chars: CHARS,
  chunk: CHUNK,
  trials: trialsAsked,
} = intArgs({ users: 50, conns: 4, runs: 4, rounds: 4, chars: 2000, chunk: 2, trials: 5 })
const TRIALS = Math.max(1, trialsAsked)

printMachine(
  `fan-out: ${USERS} users × ${CONNS} connections, ${RUNS} runs per user at once × ${ROUNDS} rounds, ${CHARS} chars in ${CHUNK}-char chunks`,
)

const text = 'The quick brown fox jumps over the lazy dog. '.repeat(Math.ceil(CHARS / 45)).slice(0, CHARS)
// The scripted model runs in a process of its own, as Ollama runs outside the server's.
const clients = await LoadClients.spawn()
const modelProcess = await startModelProcess({ mode: 'fixed', content: text, chunkSize: CHUNK, chunkDelayMs: 0 })
const ollamaUrl = modelProcess.url
const bs = await startBenchServer({ ollamaUrl, env: { MAX_RUNS_PER_USER: String(Math.max(4, RUNS)) } })

/** Sends round by round (one frame per stream per tick), holding back while sockets are full. */
async function pace(streams: { next: () => boolean }[], maxBuffered: () => number) {
  let live = streams
  while (live.length > 0) {
    live = live.filter((s) => s.next())
    await new Promise((r) => setImmediate(r))
    if (maxBuffered() > 1 << 20) while (maxBuffered() > 1 << 18) await Bun.sleep(1)
  }
}

await runBenchmark('fan-out benchmark', async () => {
  const users = await makeUsers(bs, USERS, { httpCount: Math.min(USERS, 10), prefix: 'fanout' })
  const opened = await clients.open(bs.wsUrl, users, CONNS)
  if (opened.failed) throw new Error(`could not open connections: ${opened.errors.join('; ')}`)
  console.log(`connections: ${opened.opened} open in ${fmtMs(opened.ms)}`)

  // Warm-up round (JIT, prepared statements), not measured.
  await clients.chat(
    users.map((u) => ({ userId: u.id, runs: 1 })),
    { light: true },
  )

  // ---- A: end to end -------------------------------------------------------------------------
  const recorded = new Map<string, JournalEntry[]>() // per user, in publish order
  let published = 0
  const untap = bs.server.runtime.bus.subscribe((userId, entry) => {
    published++
    let list = recorded.get(userId)
    if (!list) recorded.set(userId, (list = []))
    list.push(entry)
  })
  await clients.counters(true)
  const requestsBefore = await modelProcess.requests()
  // Server CPU per run: less sensitive to the machine's load than frames per wall second.
  const cpuBefore = process.cpuUsage()
  const wallBefore = performance.now()
  const a = await clients.chat(
    users.map((u) => ({ userId: u.id, runs: RUNS * ROUNDS, concurrency: RUNS })),
    { light: true, timeoutMs: 300_000 },
  )
  const ca = await clients.counters(true)
  const cpu = process.cpuUsage(cpuBefore)
  const cpuMsPerRun = (cpu.user + cpu.system) / 1000 / a.runs
  const runsPerSecond = a.runs / ((performance.now() - wallBefore) / 1000)
  untap()
  const modelCalls = (await modelProcess.requests()) - requestsBefore
  const chunks = modelCalls * Math.ceil(CHARS / CHUNK)
  console.log(
    `\nA end to end: ${a.runs} runs (${JSON.stringify(a.statuses)}), ${modelCalls} model calls streaming ${chunks.toLocaleString('en-US')} chunks; ` +
      `${published.toLocaleString('en-US')} events published (${round(published / a.runs, 1)} per run after delta coalescing), ×${CONNS} connections`,
  )
  console.log(describeFrames('A end to end', ca))
  console.log(
    `A: ${round(runsPerSecond, 0)} runs/s; server CPU ${round(cpuMsPerRun, 2)} ms per run (user + system, this process)`,
  )
  if (a.incomplete || a.errors.length) console.log(`  ! ${a.incomplete} incomplete; ${a.errors.join('; ')}`)

  // ---- M: the model stream alone, through the same client, same count and concurrency ------------
  const model = bs.env.OLLAMA_MODEL ?? bs.server.services.config.ollamaModel
  const modelCpuBefore = process.cpuUsage()
  const modelWallBefore = performance.now()
  let next = 0
  await Promise.all(
    Array.from({ length: USERS * RUNS }, async () => {
      while (next++ < a.runs) {
        // A client per call, as the server's provider makes one (src/llm/provider.ts).
        const stream = await new Ollama({ host: ollamaUrl }).chat({
          model,
          messages: [{ role: 'user', content: 'hello' }],
          stream: true,
        })
        let answer = ''
        for await (const part of stream) answer += part.message?.content ?? ''
        if (answer.length !== CHARS) throw new Error(`model alone: ${answer.length} of ${CHARS} characters`)
      }
    }),
  )
  const modelCpu = process.cpuUsage(modelCpuBefore)
  const modelCpuMsPerRun = (modelCpu.user + modelCpu.system) / 1000 / a.runs
  const modelRunsPerSecond = a.runs / ((performance.now() - modelWallBefore) / 1000)
  console.log(
    `M model stream alone: ${round(modelRunsPerSecond, 0)} calls/s; CPU ${round(modelCpuMsPerRun, 2)} ms per call (${Math.ceil(CHARS / CHUNK).toLocaleString('en-US')} NDJSON chunks each)`,
  )

  // ---- B and C, alternated --TRIALS times (medians reported) --------------------------------
  const { RunJournal, EventPersister } = await import('../../src/runs/journal')
  const { createUserContext } = await import('../../src/context/user-context')
  const { newId } = await import('../../src/db/scope')
  const { runs: runRows, threads } = bs.server.services.repos
  type Event = JournalEntry['event']
  const recordedRuns = [...recorded].flatMap(([userId, entries]) => {
    const byRun = new Map<string, JournalEntry[]>()
    for (const e of entries) {
      let list = byRun.get(e.event.runId)
      if (!list) byRun.set(e.event.runId, (list = []))
      list.push(e)
    }
    return [...byRun.values()].map((list) => ({
      userId,
      events: list.map((e) => e.event),
      wires: list.map((e) => e.wire),
    }))
  })
  /** Fresh run rows (the journal's events reference them) for every replayed run, made before timing. */
  async function journalsFor(persister: InstanceType<typeof EventPersister>) {
    const out: { journal: InstanceType<typeof RunJournal>; events: Event[] }[] = []
    for (const run of recordedRuns) {
      await createUserContext({ userId: run.userId, role: 'member' }).run(async () => {
        const thread = await threads.create('fan-out replay')
        const runId = newId()
        await runRows.create({ id: runId, threadId: thread.id, agent: 'triage', model: 'llama3.2', input: 'replay' })
        out.push({
          journal: new RunJournal(runId, run.userId, thread.id, 'triage', persister, bs.server.runtime.bus),
          events: run.events,
        })
      })
    }
    return out
  }
  const serverBuffered = () =>
    bs.server.runtime.registry.all().reduce((m, c) => Math.max(m, c.socket.getBufferedAmount()), 0)

  // The bare server: same users, same number of sockets each (a second set of client sockets).
  const tokenOwner = new Map(users.map((u: BenchUser) => [u.token, u.id]))
  const socketsOf = new Map<string, ServerWebSocket<unknown>[]>()
  const bare = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(req, server) {
      return server.upgrade(req) ? undefined : new Response('websocket only', { status: 400 })
    },
    websocket: {
      message(ws, message) {
        const frame = JSON.parse(String(message))
        if (frame.type !== 'auth') return
        const userId = tokenOwner.get(frame.token)!
        let list = socketsOf.get(userId)
        if (!list) socketsOf.set(userId, (list = []))
        list.push(ws)
        ws.send(JSON.stringify({ type: 'ready', userId, connectionId: `bare_${crypto.randomUUID()}` }))
      },
    },
  })
  const reopened = await clients.open(`ws://127.0.0.1:${bare.port}/`, users, CONNS)
  if (reopened.failed) throw new Error(`bare: could not open connections: ${reopened.errors.join('; ')}`)
  const bareSockets = [...socketsOf.values()].flat()
  const bareBuffered = () => bareSockets.reduce((m, ws) => Math.max(m, ws.getBufferedAmount()), 0)
  const expected = published * CONNS

  // The server's persister delivers each stored batch through the registry, corked; B' uses one
  // given no `deliverBatch`, so every frame is its own socket write.
  const uncorked = new EventPersister(bs.server.services.repos.journal)
  async function replayThroughJournals(label: string, corked: boolean): Promise<Counters> {
    const persister = corked ? bs.server.runtime.runs.persister : uncorked
    const journals = await journalsFor(persister)
    Bun.gc(true)
    await clients.counters(true)
    {
      const wait = clients.waitFrames(expected, 300_000)
      await pace(
        journals.map((r) => {
          let i = 0
          return {
            next: () => {
              const { type, runId, threadId, seq, ts, agent, ...rest } = r.events[i++] as any
              r.journal.append({ type, ...rest })
              return i < r.events.length
            },
          }
        }),
        serverBuffered,
      )
      await persister.flush()
      const c = await wait
      console.log(describeFrames(label, c) + (c.eventFrames < expected ? `  (! expected ${expected})` : ''))
      return c
    }
  }

  const bTrials: Counters[] = []
  const b0Trials: Counters[] = []
  const cTrials: Counters[] = []
  for (let t = 0; t < TRIALS; t++) {
    // B: journal → bus → registry → Connection.send (real persister, real rows)
    bTrials.push(await replayThroughJournals(`B journal → socket, trial ${t + 1}`, true))
    b0Trials.push(await replayThroughJournals(`B' same, one write per frame, trial ${t + 1}`, false))

    // C: bare Bun.serve, the recorded frames as they were sent
    Bun.gc(true)
    await clients.counters(true)
    const waitC = clients.waitFrames(expected, 300_000)
    await pace(
      recordedRuns.map((run) => {
        const sockets = socketsOf.get(run.userId) ?? []
        let i = 0
        return {
          next: () => {
            const wire = run.wires[i++]
            for (const ws of sockets) ws.send(wire)
            return i < run.wires.length
          },
        }
      }),
      bareBuffered,
    )
    const cc = await waitC
    cTrials.push(cc)
    console.log(
      describeFrames(`C bare Bun.serve,   trial ${t + 1}`, cc) +
        (cc.eventFrames < expected ? `  (! expected ${expected})` : ''),
    )
  }
  await clients.counters(true)
  await clients.closeConnections()
  bare.stop(true)
  const median = (list: Counters[]) =>
    [...list].sort((x, y) => frameRate(x) - frameRate(y))[Math.floor(list.length / 2)]
  const cb = median(bTrials)
  const cb0 = b0Trials.length ? median(b0Trials) : undefined
  const cc = median(cTrials)

  const ratioA = frameRate(ca) / frameRate(cc)
  const ratioB = frameRate(cb) / frameRate(cc)
  // What A / C could be at most if the server's own work cost nothing: runs at M's rate, each
  // delivering as many frames as in A.
  const ratioBound = (modelRunsPerSecond * (ca.eventFrames / a.runs)) / frameRate(cc)
  console.log(`\nratio A / C (end to end vs bare): ${(ratioA * 100).toFixed(1)} %`)
  console.log(
    `bound on A / C from the model stream alone (M's calls/s × A's frames per run / C): ${(ratioBound * 100).toFixed(1)} %`,
  )
  console.log(`ratio B / C (journal → socket vs bare): ${(ratioB * 100).toFixed(1)} %`)
  if (cb0)
    console.log(
      `ratio B' / C (without corked batch writes): ${((frameRate(cb0) / frameRate(cc)) * 100).toFixed(1)} %; B / B' ${(frameRate(cb) / frameRate(cb0)).toFixed(2)}×`,
    )
  recordResult('fanout', {
    command: commandLine('bench:fanout'),
    params: { users: USERS, conns: CONNS, runs: RUNS, rounds: ROUNDS, chars: CHARS, chunk: CHUNK, trials: TRIALS },
    figures: {
      runs: a.runs,
      modelCalls,
      chunks,
      eventsPublished: published,
      endToEnd: frameFigures(ca),
      journalToSocket: frameFigures(cb, bTrials),
      ...(cb0 && {
        journalToSocketUncorked: {
          perSecond: Math.round(frameRate(cb0)),
          trials: b0Trials.map((c) => Math.round(frameRate(c))),
        },
      }),
      bare: frameFigures(cc, cTrials),
      ratioEndToEnd: round(ratioA, 3),
      modelAlone: { callsPerSecond: round(modelRunsPerSecond, 1), cpuMsPerCall: round(modelCpuMsPerRun, 3) },
      ratioBoundFromModel: round(ratioBound, 3),
      ratioJournalToSocket: round(ratioB, 3),
    },
    targets: [
      { name: 'A end to end (frames/s)', value: fmtRate(frameRate(ca)), target: 'reported' },
      { name: 'A runs/s', value: round(runsPerSecond, 0), target: '≥ 500', met: runsPerSecond >= 500 },
      { name: 'A server CPU per run', value: `${round(cpuMsPerRun, 2)} ms`, target: 'reported' },
      {
        name: 'M model stream alone: calls/s, CPU per call',
        value: `${round(modelRunsPerSecond, 0)}, ${round(modelCpuMsPerRun, 2)} ms`,
        target: 'bound on A',
      },
      { name: 'B journal → socket (frames/s, median)', value: fmtRate(frameRate(cb)), target: 'reported' },
      ...(cb0
        ? [{ name: "B' one write per frame (frames/s, median)", value: fmtRate(frameRate(cb0)), target: 'reported' }]
        : []),
      { name: 'C bare Bun.serve (frames/s, median)', value: fmtRate(frameRate(cc)), target: 'baseline' },
      { name: 'A / C', value: `${(ratioA * 100).toFixed(1)} %`, target: '≥ 20 %', met: ratioA >= 0.2 },
      { name: 'bound on A / C from M', value: `${(ratioBound * 100).toFixed(1)} %`, target: 'reported' },
      {
        name: 'B / C',
        value: `${(ratioB * 100).toFixed(1)} %`,
        target: '≥ 50 % (delivery path alone)',
        met: ratioB >= 0.5,
      },
    ],
  })
}, [() => clients.stop(), () => modelProcess.stop(), () => bs.close()])
