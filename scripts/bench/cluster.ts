/**
 * Cluster fan-out (issue 10): run events delivered to WebSocket clients on process B for runs
 * on process A, through Redis, versus the same events delivered by one process from memory.
 * Both are measured in the same run, alternated `--trials` times; the medians are compared.
 *
 *   bun run bench:cluster [--users 50] [--conns 4] [--runs 4] [--events 60] [--chars 24] [--trials 3]
 *
 * Four processes besides this one, so each side gets the process layout it has in production:
 *  - a real `redis-server` on a free loopback port (tests/support/redis.ts; Debian package);
 *  - S: one server, no REDIS_URL (the single-process default);
 *  - A and B: two servers with REDIS_URL, sharing one database file;
 *  - the WebSocket clients (scripts/bench/lib/load-clients.ts), counting frames.
 * S, A and B are `startServer()` in a driver child of this script (`--driver`), which can also
 * feed a run's events straight into real RunJournals (real persister and database rows, the
 * server's bus, registry and connections), without a model in the way:
 *
 *   in memory:   driver S: journal → persister → LocalBus → registry → sockets (clients on S)
 *   cluster:     driver A: journal → persister → Redis PUBLISH ─┐
 *                driver B:          Redis subscriber → registry → sockets (clients on B only)
 *
 * Every user runs `--runs` runs at once; each run is agent_started, one agent_thinking,
 * `--events` message_delta of `--chars` characters, and agent_completed, appended one event per
 * run per tick (as many runs stream at once). Each event goes to every one of the owner's `--conns`
 * sockets. Figure: frames received / (last frame − first frame), at the clients.
 * Target: cluster ≥ 50 % of in memory. Also reported: frames lost or doubled (must be 0).
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import type { RunningServer } from '../../src/app'
import { intArgs } from './lib/args'
import { answerCommands, CommandChild } from './lib/commands'
import { benchTempDir } from './lib/temp-dir'
import { describeFrames, frameFigures, frameRate } from './lib/frames'
import { type Counters, LoadClients } from './lib/load-clients'
import { printMachine } from './lib/machine'
import { fmtMs, fmtRate, round } from './lib/numbers'
import { commandLine, recordResult } from './lib/results'
import { BENCH_ENV } from './lib/server'
import { type BenchUser, mintUsers } from './lib/users'

// ---------------------------------------------------------------------------------------------
// The driver child: one server, and a way to push events through its journals.

interface ReplaySpec {
  users: string[]
  runs: number
  events: number
  chars: number
}

async function runDriver() {
  const { loadConfig } = await import('../../src/config')
  const { startServer } = await import('../../src/app')
  const { RunJournal } = await import('../../src/runs/journal')
  const { createUserContext } = await import('../../src/context/user-context')
  const { newId } = await import('../../src/db/scope')
  let server: RunningServer | undefined

  /** Pushes every run's events, one event per run per tick; resolves once all are stored and published. */
  async function replay(spec: ReplaySpec) {
    const s = server!
    const { runs: runRows, threads } = s.services.repos
    const journals: InstanceType<typeof RunJournal>[] = []
    for (const userId of spec.users) {
      await createUserContext({ userId, role: 'member' }).run(async () => {
        const thread = await threads.create('cluster fan-out')
        for (let r = 0; r < spec.runs; r++) {
          const runId = newId()
          await runRows.create({
            id: runId,
            threadId: thread.id,
            agent: 'triage',
            model: 'bench',
            input: 'fan-out',
            nodeId: s.services.config.nodeId,
          })
          journals.push(new RunJournal(runId, userId, thread.id, 'triage', s.runtime.runs.persister, s.runtime.bus))
        }
      })
    }
    const delta = 'The quick brown fox jumps over the lazy dog. '
      .repeat(Math.ceil(spec.chars / 45))
      .slice(0, spec.chars)
    const total = spec.events + 3
    const buffered = () => s.runtime.registry.all().reduce((m, c) => Math.max(m, c.socket.getBufferedAmount()), 0)
    const started = performance.now()
    for (let i = 0; i < total; i++) {
      for (const journal of journals) {
        if (i === 0) journal.append({ type: 'agent_started', input: 'fan-out' })
        else if (i === 1) journal.append({ type: 'agent_thinking' })
        else if (i < total - 1) journal.append({ type: 'message_delta', delta })
        else
          journal.append({
            type: 'agent_completed',
            status: 'completed',
            message: { id: newId(), content: delta.repeat(spec.events) },
          })
      }
      await new Promise((r) => setImmediate(r))
      // Local sockets too full: wait (the cluster's A has none; Redis buffers for B).
      if (buffered() > 1 << 20) while (buffered() > 1 << 18) await Bun.sleep(1)
    }
    await s.runtime.runs.persister.flush()
    return {
      published: journals.length * total,
      ms: performance.now() - started,
      publishFailures: s.services.cluster?.publishFailures ?? 0,
    }
  }

  answerCommands(
    {
      start: async (cmd) => {
        server = await startServer(loadConfig(cmd.env))
        return {
          url: server.url,
          wsUrl: `${server.url.replace(/^http/, 'ws')}/ws`,
          nodeId: server.services.config.nodeId,
        }
      },
      users: (cmd) => mintUsers(server!, cmd.count, cmd.prefix),
      replay: (cmd) => replay(cmd.spec),
    },
    () => server?.stop(),
  )
}

/** The parent's handle on a driver child. */
class Driver {
  url = ''
  wsUrl = ''
  private constructor(
    readonly name: string,
    private readonly child: CommandChild,
  ) {}

  static async start(name: string, env: Record<string, string>): Promise<Driver> {
    const self = new Driver(name, CommandChild.spawn(import.meta.path, '--driver', name))
    const { url, wsUrl } = await self.call({ cmd: 'start', env })
    self.url = url
    self.wsUrl = wsUrl
    return self
  }

  call<T = any>(command: Record<string, unknown>): Promise<T> {
    return this.child.call(command)
  }

  users(count: number, prefix: string): Promise<BenchUser[]> {
    return this.call({ cmd: 'users', count, prefix })
  }

  replay(spec: ReplaySpec): Promise<{ published: number; ms: number; publishFailures: number }> {
    return this.call({ cmd: 'replay', spec })
  }

  stop() {
    return this.child.stop(5000)
  }
}

// ---------------------------------------------------------------------------------------------
// The benchmark

async function main() {
  const {
    users: USERS,
    conns: CONNS,
    runs: RUNS,
    events: EVENTS,
    chars: CHARS,
    trials: trialsAsked,
  } = intArgs({ users: 50, conns: 4, runs: 4, events: 60, chars: 24, trials: 3 })
  const TRIALS = Math.max(1, trialsAsked)
  const { redisAvailable, startRedis } = await import('../../tests/support/redis')
  if (!redisAvailable) {
    console.error(
      'bench:cluster needs redis-server (Debian package "redis-server", or REDIS_SERVER=/path/to/redis-server)',
    )
    process.exit(2)
  }
  printMachine(
    `cluster fan-out: ${USERS} users × ${CONNS} sockets, ${RUNS} runs each at once, ${EVENTS + 3} events per run (${CHARS}-char deltas), ${TRIALS} trials`,
  )

  const redis = await startRedis()
  const dirs = [benchTempDir('chat-bench-single-'), benchTempDir('chat-bench-cluster-')]
  const secret = `bench-secret-${crypto.randomUUID()}-0123456789abcdef`
  const common = {
    HOST: '127.0.0.1',
    PORT: '0',
    JWT_SECRET: secret,
    OLLAMA_HOST: 'http://127.0.0.1:9',
    ...BENCH_ENV,
    MAX_RUNS_PER_USER: String(Math.max(4, RUNS)),
    JOURNAL_GRACE_MS: '1000',
  }
  const drivers: Driver[] = []
  const clients: LoadClients[] = []
  let exitCode = 0
  try {
    const single = await Driver.start('S', {
      ...common,
      DATABASE_URL: `file:${join(dirs[0], 'chat.db')}`,
      DATA_DIR: dirs[0],
    })
    drivers.push(single)
    const clusterEnv = {
      ...common,
      DATABASE_URL: `file:${join(dirs[1], 'chat.db')}`,
      DATA_DIR: dirs[1],
      REDIS_URL: redis.url,
    }
    const a = await Driver.start('A', { ...clusterEnv, NODE_ID: 'bench-a' })
    drivers.push(a)
    const b = await Driver.start('B', { ...clusterEnv, NODE_ID: 'bench-b' })
    drivers.push(b)
    console.log(
      `processes: S ${single.url} (in memory) · A ${a.url} + B ${b.url} (REDIS_URL=${redis.url}) · redis-server pid on port ${redis.port}`,
    )

    const singleUsers = await single.users(USERS, 'single')
    const clusterUsers = await a.users(USERS, 'cluster') // one database: B knows them too
    console.log(
      `users: ${USERS} per side, created with the users repository + access token signing of the server (no password hash)`,
    )
    // One client process per side, so each side's frames are counted alone.
    const onS = await LoadClients.spawn()
    const onB = await LoadClients.spawn()
    clients.push(onS, onB)
    for (const [label, lc, url, users] of [
      ['S', onS, single.wsUrl, singleUsers],
      ['B', onB, b.wsUrl, clusterUsers],
    ] as const) {
      const opened = await lc.open(url, users as BenchUser[], CONNS)
      if (opened.failed) throw new Error(`could not open sockets on ${label}: ${opened.errors.join('; ')}`)
      console.log(`sockets on ${label}: ${opened.opened} open in ${fmtMs(opened.ms)}`)
    }

    const spec = (users: BenchUser[]): ReplaySpec => ({
      users: users.map((u) => u.id),
      runs: RUNS,
      events: EVENTS,
      chars: CHARS,
    })
    const expected = USERS * RUNS * (EVENTS + 3) * CONNS
    const describe = (label: string, c: Counters) =>
      describeFrames(label, c) +
      (c.eventFrames !== expected ? `  (! expected ${expected.toLocaleString('en-US')})` : '')

    async function measure(driver: Driver, lc: LoadClients, users: BenchUser[]) {
      Bun.gc(true)
      await lc.counters(true)
      const wait = lc.waitFrames(users.length * RUNS * (EVENTS + 3) * CONNS, 120_000)
      const fed = await driver.replay(spec(users))
      await wait
      await Bun.sleep(200) // anything late (a double) still counts
      return { ...(await lc.counters(true)), fed }
    }

    // Warm-up of both paths (JIT, prepared statements, Redis connections), not measured.
    await measure(single, onS, singleUsers.slice(0, 5))
    await measure(a, onB, clusterUsers.slice(0, 5))

    const memoryTrials: (Counters & { fed: any })[] = []
    const clusterTrials: (Counters & { fed: any })[] = []
    for (let t = 0; t < TRIALS; t++) {
      const m = await measure(single, onS, singleUsers)
      memoryTrials.push(m)
      console.log(describe(`in memory (S → clients on S), trial ${t + 1}`, m))
      const c = await measure(a, onB, clusterUsers)
      clusterTrials.push(c)
      console.log(
        describe(`cluster   (A → Redis → B → clients on B), trial ${t + 1}`, c) +
          (c.fed.publishFailures ? `  (${c.fed.publishFailures} publish failures)` : ''),
      )
    }
    const median = (list: Counters[]) =>
      [...list].sort((x, y) => frameRate(x) - frameRate(y))[Math.floor(list.length / 2)]
    const mm = median(memoryTrials)
    const mc = median(clusterTrials)
    const ratio = frameRate(mc) / frameRate(mm)
    const lost = (list: Counters[]) => list.reduce((n, c) => n + Math.max(0, expected - c.eventFrames), 0)
    const extra = (list: Counters[]) => list.reduce((n, c) => n + Math.max(0, c.eventFrames - expected), 0)
    console.log(`\ncluster / in memory: ${(ratio * 100).toFixed(1)} %`)
    recordResult('cluster', {
      command: commandLine('bench:cluster'),
      params: { users: USERS, conns: CONNS, runs: RUNS, events: EVENTS, chars: CHARS, trials: TRIALS, nodes: 2 },
      figures: {
        expectedFramesPerTrial: expected,
        inMemory: frameFigures(mm, memoryTrials),
        cluster: frameFigures(mc, clusterTrials),
        ratio: round(ratio, 3),
        lost: { inMemory: lost(memoryTrials), cluster: lost(clusterTrials) },
        extra: { inMemory: extra(memoryTrials), cluster: extra(clusterTrials) },
        publishFailures: clusterTrials.reduce((n, c) => n + c.fed.publishFailures, 0),
      },
      targets: [
        { name: 'in memory: S → clients on S (frames/s, median)', value: fmtRate(frameRate(mm)), target: 'baseline' },
        {
          name: 'cluster: A → Redis → B → clients on B (frames/s, median)',
          value: fmtRate(frameRate(mc)),
          target: 'reported',
        },
        { name: 'cluster / in memory', value: `${(ratio * 100).toFixed(1)} %`, target: '≥ 50 %', met: ratio >= 0.5 },
        {
          name: 'frames lost or doubled (all trials, both sides)',
          value: lost(memoryTrials) + lost(clusterTrials) + extra(memoryTrials) + extra(clusterTrials),
          target: '0',
          met: lost(memoryTrials) + lost(clusterTrials) + extra(memoryTrials) + extra(clusterTrials) === 0,
        },
      ],
    })
  } catch (error) {
    console.error('cluster benchmark failed:', error)
    exitCode = 1
  } finally {
    for (const lc of clients) await lc.stop()
    for (const d of drivers.reverse()) await d.stop()
    await redis.close()
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  }
  process.exit(exitCode)
}

if (process.argv.includes('--driver')) void runDriver()
else if (import.meta.main) await main()
