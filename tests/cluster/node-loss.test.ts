/**
 * Liveness (issues 10 and 19): kill -9 of a process in the middle of its runs. A survivor
 * notices the missing heartbeat and continues each of the dead process's runs within 15 s
 * (PROTOCOL.md §9): `agent_thinking {status:"resumed"}`, the answer continued from the text
 * already streamed, one `agent_completed` (completed), delivered to the owner's connections on
 * the survivors. Nothing a client saw is lost, no seq repeats, and the run slots are given back.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { pollEvents, startCluster, useCluster, type TestCluster } from '../support/cluster'
import { redisAvailable, warnIfNoRedis } from '../support/redis'
import type { TestUser } from '../support/users'
import { seqProblem, streamedText, type Frame, type WsClient } from '../support/ws-client'
import { lastUserText } from '../support/chat-stack'

const ANSWER = Array.from({ length: 100 }, (_, i) => `part${i}`).join(' ') // ~600 characters

setDefaultTimeout(90_000)
warnIfNoRedis('tests/cluster/node-loss.test.ts')

describe.skipIf(!redisAvailable)('kill -9 of a process mid-run', () => {
  // Slow streams: every run on the victim is mid-answer when it dies (the control run's never ends).
  const { cluster, users } = useCluster(
    {
      nodes: 3,
      env: { MAX_RUNS_PER_USER: '3' },
      handler: (req) => ({
        content: lastUserText(req.messages).startsWith('control') ? 'z'.repeat(20_000) : ANSWER,
        chunkSize: 2,
        chunkDelayMs: 10,
      }),
    },
    3,
    'survivor',
  )

  test('a survivor continues its runs within 15 s, to their complete answers, delivered on the survivors', async () => {
    const victim = 0
    // Each user: a socket on the victim (where the runs start) and one on each survivor.
    const sockets = await Promise.all(
      users.map(async (user) => ({
        user,
        onVictim: await cluster.connect(user, victim),
        onSurvivors: [await cluster.connect(user, 1), await cluster.connect(user, 2)],
      })),
    )
    const runs = await Promise.all(
      sockets.flatMap((s) => [0, 1].map(async (r) => ({ ...(await s.onVictim.chat(`run ${r}`)), ...s }))),
    )
    // A control run on a survivor, which must not be touched (user 0's third slot).
    const control = { ...(await sockets[0].onSurvivors[0].chat('control run on a survivor')), ...sockets[0] }
    await Promise.all(
      [...runs, control].map((run) =>
        run.onSurvivors[1].until(
          () => run.onSurvivors[1].eventsOf(run.runId).filter((e) => e.type === 'message_delta').length >= 3,
          20_000,
        ),
      ),
    )

    const killedAt = Date.now()
    await cluster.nodes[victim].kill('SIGKILL')
    const seenBeforeKill = new Map(runs.map((run) => [run.runId, run.onSurvivors[0].eventsOf(run.runId)]))
    for (const seen of seenBeforeKill.values()) expect(seen.some((e) => e.type === 'agent_completed')).toBe(false)

    // Every survivor socket of every owner sees its runs resumed within 15 s of the kill.
    const resumedAfter: number[] = []
    await Promise.all(
      runs.flatMap((run) =>
        run.onSurvivors.map(async (ws: WsClient) => {
          await ws.waitFor(
            (f) => f.type === 'agent_thinking' && f.status === 'resumed' && f.runId === run.runId,
            15_000 - (Date.now() - killedAt),
          )
          resumedAfter.push(Date.now() - killedAt)
        }),
      ),
    )
    console.log(`node loss: every survivor socket saw its runs resumed ${Math.max(...resumedAfter)} ms after the kill`)
    expect(Math.max(...resumedAfter)).toBeLessThan(15_000)
    await Promise.all(runs.flatMap((run) => run.onSurvivors.map((ws: WsClient) => ws.completion(run.runId, 30_000))))

    for (const run of runs) {
      const stored = await pollEvents(cluster, 1, run.runId, run.user.accessToken)
      expect(seqProblem(stored)).toBeUndefined()
      // Everything a client saw before the kill is stored, unchanged.
      const seen: Frame[] = seenBeforeKill.get(run.runId)!
      expect(stored.slice(0, seen.length)).toEqual(seen)
      // Resumed once, one agent_completed, last: the whole answer, streamed exactly once.
      expect(stored.filter((e) => e.type === 'agent_thinking' && e.status === 'resumed')).toHaveLength(1)
      expect(stored.filter((e) => e.type === 'agent_completed')).toHaveLength(1)
      expect(stored.at(-1)).toMatchObject({
        type: 'agent_completed',
        status: 'completed',
        message: { content: ANSWER },
      })
      expect(streamedText(stored)).toBe(ANSWER)
      // The survivors' sockets hold the whole stored run, in order, once each.
      for (const ws of run.onSurvivors) expect(ws.eventsOf(run.runId)).toEqual(stored)
      const { run: row } = await cluster.json(2, `/api/runs/${run.runId}`, { token: run.user.accessToken })
      expect(row.status).toBe('completed')
      const { messages } = await cluster.json(2, `/api/threads/${run.threadId}/messages`, {
        token: run.user.accessToken,
      })
      expect(messages.at(-1)).toMatchObject({ role: 'assistant', id: stored.at(-1).message.id, content: ANSWER })
    }

    // The control run on a survivor streams on, untouched.
    const ws = control.onSurvivors[1]
    const before = ws.eventsOf(control.runId).length
    await ws.until(() => ws.eventsOf(control.runId).length > before + 5)
    expect(ws.eventsOf(control.runId).some((e) => e.type === 'agent_completed')).toBe(false)
    ws.send({ type: 'cancel', runId: control.runId })
    expect((await ws.completion(control.runId)).at(-1)!.status).toBe('cancelled')

    // The dead process's run slots are free again: each user can start MAX_RUNS_PER_USER runs.
    for (const s of sockets) {
      const fresh = await Promise.all([0, 1, 2].map((r) => s.onSurvivors[r % 2].chat(`after the loss ${r}`)))
      for (const run of fresh) s.onSurvivors[0].send({ type: 'cancel', runId: run.runId })
      await Promise.all(fresh.map((run) => s.onSurvivors[0].completion(run.runId)))
    }
    expect(cluster.nodes[1].alive && cluster.nodes[2].alive).toBe(true)
  })
})

describe.skipIf(!redisAvailable)('a run that has used up its resumes', () => {
  let cluster: TestCluster
  let users: TestUser[]
  beforeAll(async () => {
    // RUN_RESUME_MAX_ATTEMPTS=0: no resume is left, so a lost process's runs are failed at once.
    cluster = await startCluster({
      nodes: 2,
      env: { RUN_RESUME_MAX_ATTEMPTS: '0' },
      handler: () => ({ content: ANSWER, chunkSize: 2, chunkDelayMs: 10 }),
    })
    users = await cluster.register(1, 'exhausted')
  })
  afterAll(() => cluster?.close())

  test('is closed by a survivor as failed with node_lost, within 15 s, with its agent_completed', async () => {
    const [user] = users
    const onVictim = await cluster.connect(user, 0)
    const onSurvivor = await cluster.connect(user, 1)
    const { runId, threadId } = await onVictim.chat('doomed run')
    await onSurvivor.until(() => onSurvivor.eventsOf(runId).some((e) => e.type === 'message_delta'), 20_000)
    const killedAt = Date.now()
    await cluster.nodes[0].kill('SIGKILL')
    const done = await onSurvivor.waitFor((f) => f.type === 'agent_completed' && f.runId === runId, 15_000)
    expect(Date.now() - killedAt).toBeLessThan(15_000)
    expect(done).toMatchObject({ status: 'failed', error: { code: 'node_lost' } })
    const stored = await pollEvents(cluster, 1, runId, user.accessToken)
    expect(seqProblem(stored)).toBeUndefined()
    expect(stored.some((e) => e.type === 'agent_thinking' && e.status === 'resumed')).toBe(false)
    expect((await cluster.json(1, `/api/runs/${runId}`, { token: user.accessToken })).run.status).toBe('failed')
    const { messages } = await cluster.json(1, `/api/threads/${threadId}/messages`, { token: user.accessToken })
    expect(messages.at(-1)).toMatchObject({ role: 'assistant', id: done.message.id })
  })

  test('a process restarted under its own NODE_ID closes its earlier runs with node_lost too', async () => {
    // Process 0 died in the test above, so nobody else can close process 1's runs: its own
    // next life does, with the cluster's code.
    const [user] = users
    const socket = await cluster.connect(user, 1)
    const { runId } = await socket.chat('cut by a crash')
    await socket.until(() => socket.eventsOf(runId).some((e) => e.type === 'message_delta'), 20_000)
    await cluster.nodes[1].kill('SIGKILL')
    await cluster.restart(1)
    const stored = await pollEvents(cluster, 1, runId, user.accessToken)
    expect(seqProblem(stored)).toBeUndefined()
    expect(stored.at(-1)).toMatchObject({ type: 'agent_completed', status: 'failed', error: { code: 'node_lost' } })
  })
})
