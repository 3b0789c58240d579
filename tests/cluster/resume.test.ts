/**
 * Resume and the HTTP fallback on a process other than the run's (issue 10): the replay comes
 * from the shared journal (the database), the rest live from the bus, with no gap and no
 * duplicate across the hand-over (PROTOCOL.md §3).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { pollEvents, startCluster, type TestCluster } from '../support/cluster'
import { redisAvailable, warnIfNoRedis } from '../support/redis'
import type { TestUser } from '../support/users'
import { seqProblem, streamedText, type Frame, type WsClient } from '../support/ws-client'

setDefaultTimeout(60_000)
warnIfNoRedis('tests/cluster/resume.test.ts')

// One letter every 8 ms: a run lasts about a second, long enough to cut anywhere in it.
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz'.repeat(4)
const deltas = (ws: WsClient, runId: string) => ws.eventsOf(runId).filter((e) => e.type === 'message_delta').length

/** From the replay on (the last occurrence of afterSeq + 1), the events a socket holds. */
const fromReplay = (events: Frame[], afterSeq: number) =>
  events.slice(
    Math.max(
      0,
      events.findLastIndex((e) => e.seq === afterSeq + 1),
    ),
  )

describe.skipIf(!redisAvailable)('resume on another process than the run’s', () => {
  let cluster: TestCluster
  let user: TestUser
  beforeAll(async () => {
    cluster = await startCluster({
      nodes: 2,
      env: { JOURNAL_GRACE_MS: '200', MAX_RUNS_PER_USER: '8' },
      handler: () => ({ content: ALPHABET, chunkSize: 1, chunkDelayMs: 8 }),
    })
    ;[user] = await cluster.register(1, 'resumer')
  })
  afterAll(() => cluster?.close())

  test('a socket dropped on process A resumes on process B mid-run: exactly the missing events, then live', async () => {
    // Cut at several points of the stream, each a fresh run, so the hand-over lands at
    // different moments relative to the live events crossing Redis.
    for (const cutAfter of [1, 7, 23, 60]) {
      const onA = await cluster.connect(user, 0)
      const { runId } = await onA.chat(`cut after ${cutAfter}`)
      // Under load the deltas are gathered into fewer events: a run may end before `cutAfter`
      // of them, and then the cut falls after its end (a resume of a finished run).
      await onA.until(
        () => deltas(onA, runId) >= cutAfter || onA.eventsOf(runId).some((e) => e.type === 'agent_completed'),
      )
      onA.close() // the network drops mid-run
      // A run that ended before the cut is cut just before its end instead: resuming after the
      // last event has nothing to replay, and B would wait for a completion that never comes.
      const seen = onA.eventsOf(runId)
      const before = seen.at(-1)?.type === 'agent_completed' ? seen.slice(0, -1) : seen
      const lastSeq = before.at(-1)!.seq

      const onB = await cluster.connect(user, 1)
      onB.send({ type: 'resume', runId, afterSeq: lastSeq })
      await onB.completion(runId)
      // Live events that reached B before its resume frame are allowed; from the replay on, B
      // holds exactly lastSeq+1..n once, in order.
      const after = fromReplay(onB.eventsOf(runId), lastSeq)
      const all = [...before, ...after]
      expect(seqProblem(all)).toBeUndefined()
      expect(streamedText(all)).toBe(ALPHABET)
      expect(all.at(-1)).toMatchObject({ type: 'agent_completed', status: 'completed' })
      expect(all).toEqual(await pollEvents(cluster, 1, runId, user.accessToken)) // what is stored
      onB.close()
    }
  })

  test('many resumes racing the live stream on the other process: no gap, no duplicate after the replay', async () => {
    // Four runs on A at once; for each, a socket on B resumes from a different point while the
    // run streams (the replay is read from the database while live events cross Redis).
    const onA = await cluster.connect(user, 0)
    const runs = await Promise.all([0, 1, 2, 3].map((i) => onA.chat(`race ${i}`)))
    const results = await Promise.all(
      runs.map(async ({ runId }, i) => {
        await onA.until(() => deltas(onA, runId) >= 5 + i * 15)
        const afterSeq = onA.eventsOf(runId).at(-1)!.seq - 3 // replay some the socket on B also gets live
        const onB = await cluster.connect(user, 1)
        onB.send({ type: 'resume', runId, afterSeq })
        await onB.completion(runId)
        return { runId, afterSeq, onB }
      }),
    )
    for (const { runId, afterSeq, onB } of results) {
      const full = await onA.completion(runId)
      expect(seqProblem(full)).toBeUndefined()
      expect(fromReplay(onB.eventsOf(runId), afterSeq)).toEqual(full.slice(afterSeq))
      onB.close()
    }
    onA.close()
  })

  test('resume on B of a run on A that already finished, after its journal left A’s memory', async () => {
    const onA = await cluster.connect(user, 0)
    const { runId } = await onA.chat('finished first')
    const live = await onA.completion(runId)
    await Bun.sleep(400) // past JOURNAL_GRACE_MS
    for (const node of [0, 1]) {
      const again = await cluster.connect(user, node)
      again.send({ type: 'resume', runId, afterSeq: 5 })
      expect(await again.completion(runId)).toEqual(live.slice(5))
      again.close()
    }
    onA.close()
  })

  test('HTTP fallback: GET /api/runs/:id/events on B while the run streams on A', async () => {
    const onA = await cluster.connect(user, 0)
    const { runId } = await onA.chat('poll me')
    await onA.until(() => deltas(onA, runId) >= 3)
    const first = await cluster.json(1, `/api/runs/${runId}/events?after=0`, { token: user.accessToken })
    expect(first.done).toBe(false)
    expect(seqProblem(first.events)).toBeUndefined()
    const rest = await pollEvents(cluster, 1, runId, user.accessToken, first.events.at(-1).seq)
    const all = [...first.events, ...rest]
    expect(seqProblem(all)).toBeUndefined()
    expect(all).toEqual(await onA.completion(runId))
    // The run itself, seen through B.
    const { run } = await cluster.json(1, `/api/runs/${runId}`, { token: user.accessToken })
    expect(run.status).toBe('completed')
    onA.close()
  })

  test("another user's run is not found on the other process either", async () => {
    const [mallory] = await cluster.register(1, 'mallory', 1)
    const onA = await cluster.connect(user, 0)
    const { runId } = await onA.chat('private')
    const spy = await cluster.connect(mallory, 1)
    spy.send({ type: 'resume', runId, afterSeq: 0 })
    expect((await spy.waitFor((f) => f.type === 'error')).code).toBe('not_found')
    expect((await cluster.api(1, `/api/runs/${runId}/events?after=0`, { token: mallory.accessToken })).status).toBe(404)
    await onA.completion(runId)
    expect(spy.eventsOf(runId)).toEqual([]) // no run event (the error frame may name the run)
    onA.close()
  })
})
