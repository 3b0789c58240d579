/**
 * What must hold across processes besides events (issue 10): a cancel sent to any process
 * reaches the process running the run; the per-user run cap (MAX_RUNS_PER_USER), the login
 * failure limit (LOGIN_RATE_LIMIT) and the registration limit (REGISTER_RATE_LIMIT) count every
 * process together.
 */
import { expect, setDefaultTimeout, test } from 'bun:test'
import { type DescribeClusterOptions, describeCluster, eventually, pollEvents } from '../support/cluster'
import type { TestUser } from '../support/users'
import { seqProblem, type WsClient } from '../support/ws-client'

setDefaultTimeout(60_000)

/**
 * Three processes with the limits under test, and a model that streams forever (slowly): a run
 * ends only when it is cancelled.
 */
const CLUSTER: DescribeClusterOptions = {
  nodes: 3,
  env: {
    MAX_RUNS_PER_USER: '2',
    LOGIN_RATE_LIMIT: '3',
    LOGIN_RATE_WINDOW: '300',
    REGISTER_RATE_LIMIT: '3',
    TRUSTED_PROXIES: '127.0.0.1',
  },
  handler: () => ({ content: 'la '.repeat(5000), chunkSize: 3, chunkDelayMs: 20 }),
  users: 2,
  userName: 'control',
}

const streaming = (ws: WsClient, runId: string) => ws.eventsOf(runId).some((e) => e.type === 'message_delta')

describeCluster('cancel, run cap and login limit across processes', CLUSTER, ({ cluster, users: [alice, bob] }) => {
  /** Alice's endless run, started on process 0 and streaming there, and a socket of `other` on process 1. */
  async function runOnAAndSocketOnB(other: TestUser, question: string) {
    const onA = await cluster.connect(alice, 0)
    const onB = await cluster.connect(other, 1)
    const { runId, threadId } = await onA.chat(question)
    await onA.until(() => streaming(onA, runId))
    return { onA, onB, runId, threadId }
  }

  test('a cancel sent to another process ends the run `cancelled`, seen on both', async () => {
    const { onA, onB, runId } = await runOnAAndSocketOnB(alice, 'never ending')
    await onB.until(() => streaming(onB, runId))
    onB.send({ type: 'cancel', runId })
    for (const ws of [onA, onB]) {
      const events = await ws.completion(runId)
      expect(seqProblem(events)).toBeUndefined()
      expect(events.at(-1)).toMatchObject({ type: 'agent_completed', status: 'cancelled' })
    }
    const { run } = await cluster.json(2, `/api/runs/${runId}`, { token: alice.accessToken })
    expect(run.status).toBe('cancelled')
    const stored = await pollEvents(cluster, 2, runId, alice.accessToken)
    expect(stored.filter((e) => e.type === 'agent_completed')).toHaveLength(1)
    expect(stored).toEqual(onA.eventsOf(runId))
    expect(onB.frames.filter((f) => f.type === 'error')).toEqual([])
    onA.close()
    onB.close()
  })

  test("a cancel of another user's run, sent to the other process, is not found and stops nothing", async () => {
    const { onA, onB: bobOnB, runId } = await runOnAAndSocketOnB(bob, 'mine alone')
    bobOnB.send({ type: 'cancel', runId })
    expect((await bobOnB.waitFor((f) => f.type === 'error')).code).toBe('not_found')
    const seen = onA.eventsOf(runId).length
    await onA.until(() => onA.eventsOf(runId).length > seen + 10) // still streaming
    expect(onA.eventsOf(runId).some((e) => e.type === 'agent_completed')).toBe(false)
    onA.send({ type: 'cancel', runId })
    expect((await onA.completion(runId)).at(-1)!.status).toBe('cancelled')
    onA.close()
    bobOnB.close()
  })

  test('deleting a thread on another process stops its run there (`cancelled`, seen on both); nothing of it stays', async () => {
    const { onA, onB, runId, threadId } = await runOnAAndSocketOnB(alice, 'soon deleted')
    const deleted = await cluster.api(1, `/api/threads/${threadId}`, { method: 'DELETE', token: alice.accessToken })
    expect(deleted.status).toBe(204)
    for (const ws of [onA, onB]) {
      const events = await ws.completion(runId)
      expect(seqProblem(events)).toBeUndefined()
      expect(events.filter((e) => e.type === 'agent_completed')).toHaveLength(1)
      expect(events.at(-1)).toMatchObject({ type: 'agent_completed', status: 'cancelled' })
    }
    for (const node of [0, 1, 2]) {
      const run = await cluster.api(node, `/api/runs/${runId}`, { token: alice.accessToken })
      expect(run.status).toBe(404)
    }
    onA.close()
    onB.close()
  })

  test('MAX_RUNS_PER_USER counts the runs on every process', async () => {
    const sockets = await Promise.all([0, 1, 2].map((node) => cluster.connect(alice, node)))
    const first = await sockets[0].chat('one on process 0')
    const second = await sockets[1].chat('two on process 1')
    // A third, on the third process, is over the cap of 2 — so are more on the first two.
    for (const ws of sockets) await expect(ws.chat('one too many')).rejects.toThrow(/too_many_runs/)
    // Another user is not affected.
    const bobSocket = await cluster.connect(bob, 2)
    const bobs = await bobSocket.chat('bob may')
    // Cancelling one (from yet another process) frees its slot for every process.
    sockets[2].send({ type: 'cancel', runId: first.runId })
    await sockets[0].completion(first.runId)
    const third = await eventually(
      () => sockets[2].chat('now there is room').catch(() => undefined),
      5000,
      'a free slot',
    )
    await expect(sockets[0].chat('full again')).rejects.toThrow(/too_many_runs/)
    for (const runId of [second.runId, third.runId]) sockets[0].send({ type: 'cancel', runId })
    bobSocket.send({ type: 'cancel', runId: bobs.runId })
    await Promise.all([
      sockets[0].completion(second.runId),
      sockets[0].completion(third.runId),
      bobSocket.completion(bobs.runId),
    ])
    for (const ws of sockets) ws.close()
    bobSocket.close()
  })

  test('LOGIN_RATE_LIMIT counts failed logins on every process', async () => {
    const email = bob.email
    const statuses: number[] = []
    // Three wrong passwords, one on each process: each an ordinary 401.
    for (const node of [0, 1, 2])
      statuses.push((await cluster.api(node, '/api/auth/login', { body: { email, password: 'wrong' } })).status)
    expect(statuses).toEqual([401, 401, 401])
    // The fourth, whichever process gets it, is refused — even with the right password.
    for (const node of [0, 1, 2]) {
      const res = await cluster.api(node, '/api/auth/login', { body: { email, password: bob.password } })
      expect(res.status).toBe(429)
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
      expect(((await res.json()) as any).error.code).toBe('rate_limited')
    }
    // Another account is not affected, on any process.
    for (const node of [0, 1, 2])
      expect(
        (await cluster.api(node, '/api/auth/login', { body: { email: alice.email, password: alice.password } })).status,
      ).toBe(200)
  })

  test('REGISTER_RATE_LIMIT counts registrations from one address on every process', async () => {
    const register = (node: number, address: string) =>
      fetch(`${cluster.nodes[node].base}/api/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
        body: JSON.stringify({
          email: `reg-${crypto.randomUUID()}@cluster.test`,
          password: `pw-${crypto.randomUUID()}`,
        }),
      })
    for (const node of [0, 1, 2]) expect((await register(node, '203.0.113.7')).status).toBe(201)
    for (const node of [0, 1, 2]) {
      const res = await register(node, '203.0.113.7')
      expect(res.status).toBe(429)
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
    }
    expect((await register(1, '203.0.113.8')).status).toBe(201)
  })
})
