/**
 * Redis trouble (issue 10): Redis is stopped in the middle of streaming runs and started again
 * (empty: nothing is saved). No process crashes; `/ready` says Redis is unreachable while it is
 * down and ok after; delivery across processes recovers for new runs; the runs that were in
 * flight finish on their process and are complete and seq-contiguous from the journal (resume on
 * any process, or the HTTP fallback); and no live process loses its runs as `node_lost`.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { lastUserText } from '../support/chat-stack'
import { eventually, pollEvents, startCluster, type TestCluster } from '../support/cluster'
import { redisAvailable, startRedis, warnIfNoRedis } from '../support/redis'
import type { TestUser } from '../support/users'
import { seqProblem, streamedText, type WsClient } from '../support/ws-client'

setDefaultTimeout(120_000)
warnIfNoRedis('tests/cluster/redis-restart.test.ts')

/** A run streams its answer for about 4 s: Redis goes away and comes back in the middle. */
const answerTo = (question: string) =>
  question.startsWith('short') ? `${question}: brief` : `${question}: ${'0123456789'.repeat(20)}`

describe.skipIf(!redisAvailable)('Redis restarted mid-run', () => {
  let cluster: TestCluster
  let users: TestUser[]
  // The alert webhook of both processes: Redis loss must be reported.
  const alerts: { alert: string }[] = []
  const receiver = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: async (req) => (alerts.push((await req.json()) as { alert: string }), new Response('ok')),
  })
  beforeAll(async () => {
    cluster = await startCluster({
      nodes: 2,
      env: { ALERT_WEBHOOK_URL: `http://127.0.0.1:${receiver.port}/hook` },
      handler: (req) => ({ content: answerTo(lastUserText(req.messages)), chunkSize: 1, chunkDelayMs: 20 }),
    })
    users = await cluster.register(2, 'weather')
  })
  afterAll(async () => {
    await cluster?.close()
    receiver.stop(true)
  })

  test('processes survive, /ready tells, in-flight runs stay resumable, new runs are delivered across processes', async () => {
    for (const node of [0, 1]) expect((await cluster.ready(node)).body.redis).toBe('ok')
    // Each user: a socket on each process; runs start on both processes.
    const sockets = await Promise.all(
      users.map(async (user) => ({ user, on: [await cluster.connect(user, 0), await cluster.connect(user, 1)] })),
    )
    const inFlight = await Promise.all(
      sockets.flatMap((s) =>
        [0, 1].map(async (node) => ({ ...(await s.on[node].chat(`in flight from ${node}`)), node, ...s })),
      ),
    )
    await Promise.all(
      inFlight.map((run) => run.on[1 - run.node].until(() => run.on[1 - run.node].eventsOf(run.runId).length >= 5)),
    )

    await cluster.redis.stop()
    // While it is down: both processes answer, /ready says so (still 200: the database answers).
    for (const node of [0, 1]) {
      const ready = await eventually(
        async () => {
          const r = await cluster.ready(node)
          return r.body.redis === 'unreachable' && r
        },
        10_000,
        `/ready on process ${node} to report redis unreachable`,
      )
      expect(ready.status).toBe(200)
      expect((await cluster.api(node, '/health')).status).toBe(200)
    }
    await eventually(
      async () => alerts.some((a) => a.alert === 'redis_unavailable'),
      10_000,
      'the redis_unavailable alert',
    )
    // A short run that starts and ends while Redis is down: its process runs it (the run cap
    // holds per process meanwhile) and its own sockets see it all.
    const short = { ...(await sockets[0].on[0].chat('short while down')), ...sockets[0] }
    const shortEvents = await short.on[0].completion(short.runId, 20_000)
    expect(shortEvents.at(-1)).toMatchObject({ type: 'agent_completed', status: 'completed' })
    await Bun.sleep(500) // the long runs stream on meanwhile; other processes miss those events live
    await cluster.redis.restart()
    for (const node of [0, 1])
      await eventually(
        async () => (await cluster.ready(node)).body.redis === 'ok',
        15_000,
        `/ready on process ${node} to report redis ok again`,
      )
    for (const node of cluster.nodes) expect(node.alive).toBe(true)

    // The in-flight runs finished on their own process: complete there, and complete and
    // contiguous from the journal, through either process.
    for (const run of inFlight) {
      const home = run.on[run.node]
      const events = await home.completion(run.runId, 30_000)
      expect(seqProblem(events)).toBeUndefined()
      expect(events.at(-1)).toMatchObject({ type: 'agent_completed', status: 'completed' })
      expect(streamedText(events)).toBe(answerTo(`in flight from ${run.node}`))
      for (const node of [0, 1])
        expect(await pollEvents(cluster, node, run.runId, run.user.accessToken)).toEqual(events)

      // The socket on the other process may have missed events while Redis was down (seq gap):
      // a resume from its last contiguous seq gives it exactly the rest.
      const away: WsClient = run.on[1 - run.node]
      const seen = away.eventsOf(run.runId)
      let contiguous = 0
      while (contiguous < seen.length && seen[contiguous].seq === contiguous + 1) contiguous++
      const fresh = await cluster.connect(run.user, 1 - run.node)
      fresh.send({ type: 'resume', runId: run.runId, afterSeq: contiguous })
      const rest = await fresh.completion(run.runId)
      expect([...seen.slice(0, contiguous), ...rest]).toEqual(events)
      fresh.close()
    }

    // The run that began and ended in the outage reaches the owner's socket on the other process
    // once Redis is back (its process publishes what it could not): whole, in order, no resume.
    expect(await short.on[1].completion(short.runId, 20_000)).toEqual(shortEvents)

    // No live process lost its runs: nothing was closed as node_lost (or anything but completed).
    for (const run of inFlight) {
      const { run: row } = await cluster.json(run.node, `/api/runs/${run.runId}`, { token: run.user.accessToken })
      expect(row.status).toBe('completed')
    }

    // Delivery across processes is back for new runs: every event, in order, on both sockets.
    for (const s of sockets) {
      const { runId } = await s.on[0].chat('after the storm')
      const home = await s.on[0].completion(runId, 30_000)
      const away = await s.on[1].completion(runId, 30_000)
      expect(seqProblem(away)).toBeUndefined()
      expect(away).toEqual(home)
    }
    // Cancels cross again too.
    const { runId } = await sockets[0].on[0].chat('cancel me across')
    await sockets[0].on[1].until(() => sockets[0].on[1].eventsOf(runId).length > 3)
    sockets[0].on[1].send({ type: 'cancel', runId })
    expect((await sockets[0].on[0].completion(runId)).at(-1)!.status).toBe('cancelled')
    for (const node of cluster.nodes) expect(node.alive).toBe(true)
  })
})

describe.skipIf(!redisAvailable)('a process started while Redis is down', () => {
  test('starts, serves and runs chats on its own; joins the cluster once Redis is up', async () => {
    const redis = await startRedis()
    await redis.stop()
    const cluster = await startCluster({
      nodes: 2,
      redis,
      handler: (req) => ({ content: `echo: ${lastUserText(req.messages)}`, chunkSize: 2, chunkDelayMs: 5 }),
    })
    try {
      for (const node of [0, 1]) {
        const ready = await cluster.ready(node)
        expect(ready.status).toBe(200)
        expect(ready.body.redis).toBe('unreachable')
      }
      const [user] = await cluster.register(1, 'early')
      // Logins work (limited per process meanwhile) and so do chats on the socket's own process.
      expect(
        (await cluster.api(1, '/api/auth/login', { body: { email: user.email, password: user.password } })).status,
      ).toBe(200)
      const onA = await cluster.connect(user, 0)
      const { runId } = await onA.chat('alone for now')
      expect((await onA.completion(runId)).at(-1)!.status).toBe('completed')

      await redis.restart()
      for (const node of [0, 1])
        await eventually(
          async () => (await cluster.ready(node)).body.redis === 'ok',
          15_000,
          `process ${node} to reach redis`,
        )
      const onB = await cluster.connect(user, 1)
      await Bun.sleep(200)
      const next = await onA.chat('together now')
      const home = await onA.completion(next.runId)
      expect(await onB.completion(next.runId)).toEqual(home)
      for (const node of cluster.nodes) expect(node.alive).toBe(true)
    } finally {
      await cluster.close()
      await redis.close()
    }
  })
})
