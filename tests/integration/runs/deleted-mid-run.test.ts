/**
 * Deleting a thread, or the whole account, while one of its runs is still streaming
 * (docs/api.md, "Runs of a deleted thread"): the run is stopped first — it ends `cancelled`
 * like a cancel, its events whole and in order — and then deleted with the rest, so nothing of
 * it is written afterwards. Another user streaming at the same moment is untouched: every one
 * of his events is stored and delivered, in order, and no batch of events fails.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { lastUserText, startChatStack, type ChatStack } from '../../support/chat-stack'
import { expectError } from '../../support/http'
import { rowsPerTable } from '../../support/teams'
import type { TestUser } from '../../support/users'
import { seqProblem, streamedText, type WsClient } from '../../support/ws-client'

setDefaultTimeout(60_000) // real servers and sockets on a shared 2-core machine

/** Alice's answers stream for minutes (each ends only when it is stopped); Bob's are short and his own. */
const ALICE_ANSWER = 'a'.repeat(20_000)
const bobAnswer = (question: string) => `${question}: ${'b'.repeat(150)}`

let stack: ChatStack
/** The first account, so the admin (and the only one): the users below are members. */
let admin: { user: TestUser; ws: WsClient }
beforeAll(async () => {
  stack = await startChatStack({
    handler: (req) => {
      const text = lastUserText(req.messages)
      return text.startsWith('alice')
        ? { content: ALICE_ANSWER, chunkSize: 1, chunkDelayMs: 10 }
        : { content: bobAnswer(text), chunkSize: 1, chunkDelayMs: 3 }
    },
  })
  admin = await stack.userWithSocket('alice-admin')
})
afterAll(() => stack.close())

const persister = () => stack.server.runtime.runs.persister

/** The run's events as stored in the database (not the in-memory journal), in seq order. */
async function storedEvents(runId: string): Promise<any[]> {
  const { rows } = await stack.server.services.database.client.execute({
    sql: 'SELECT data FROM run_events WHERE run_id = ? ORDER BY seq',
    args: [runId],
  })
  return rows.map((r) => JSON.parse(String(r.data)))
}

/** Both runs are streaming: Bob's, then Alice's. */
async function bothStreaming(alice: WsClient, bob: WsClient) {
  const bobRun = await bob.chat('bob asks')
  const aliceRun = await alice.chat('alice asks')
  for (const [ws, run] of [
    [alice, aliceRun],
    [bob, bobRun],
  ] as const)
    await ws.waitFor((f) => f.type === 'message_delta' && f.runId === run.runId)
  return { aliceRun, bobRun }
}

/** Her run ended `cancelled` before it answered in full, its events whole and in order. */
function expectStopped(events: any[]) {
  expect(seqProblem(events)).toBeUndefined()
  expect(events[0].type).toBe('agent_started')
  expect(events.filter((e) => e.type === 'agent_completed')).toHaveLength(1)
  expect(events.at(-1)).toMatchObject({
    type: 'agent_completed',
    status: 'cancelled',
    error: { code: 'cancelled' },
  })
  expect(streamedText(events).length).toBeLessThan(ALICE_ANSWER.length)
}

/** Bob's run completed, and every event of it was delivered and stored, in order. */
async function expectWhole(bob: { user: TestUser; ws: WsClient }, run: { runId: string; threadId: string }) {
  const delivered = await bob.ws.completion(run.runId)
  expect(seqProblem(delivered)).toBeUndefined()
  expect(delivered[0].type).toBe('agent_started')
  expect(delivered.at(-1)).toMatchObject({ type: 'agent_completed', status: 'completed' })
  expect(streamedText(delivered)).toBe(bobAnswer('bob asks'))
  // No event of his is lost: the database holds exactly what he was sent.
  expect(await storedEvents(run.runId)).toEqual(delivered)
  const res = await stack.server.api(`/api/threads/${run.threadId}/messages`, { token: bob.user.accessToken })
  const { messages } = (await res.json()) as { messages: any[] }
  expect(messages.map((m) => [m.role, m.content, m.status ?? null])).toEqual([
    ['user', 'bob asks', null],
    ['assistant', bobAnswer('bob asks'), 'completed'],
  ])
}

describe('a run whose thread or account is deleted while it streams', () => {
  test('DELETE /api/threads/:id stops its run (cancelled), deletes it, and leaves another user streaming untouched', async () => {
    const alice = await stack.userWithSocket('alice')
    const bob = await stack.userWithSocket('bob')
    const before = { failures: persister().failures, gone: persister().goneRuns }
    const { aliceRun, bobRun } = await bothStreaming(alice.ws, bob.ws)

    // Another user's DELETE of her thread id is not found and stops nothing.
    await expectError(
      await stack.server.api(`/api/threads/${aliceRun.threadId}`, { method: 'DELETE', token: bob.user.accessToken }),
      404,
      'not_found',
    )
    const seen = alice.ws.eventsOf(aliceRun.runId).length
    await alice.ws.until(() => alice.ws.eventsOf(aliceRun.runId).length > seen + 10) // still streaming
    expect(alice.ws.eventsOf(aliceRun.runId).some((e) => e.type === 'agent_completed')).toBe(false)

    const deleted = await stack.server.api(`/api/threads/${aliceRun.threadId}`, {
      method: 'DELETE',
      token: alice.user.accessToken,
    })
    expect(deleted.status).toBe(204)
    expectStopped(await alice.ws.completion(aliceRun.runId))
    // Gone, and nothing of it written after the deletion.
    await expectError(
      await stack.server.api(`/api/runs/${aliceRun.runId}`, { token: alice.user.accessToken }),
      404,
      'not_found',
    )
    expect(await storedEvents(aliceRun.runId)).toEqual([])

    await expectWhole(bob, bobRun)
    // The run was stopped before its thread went: no write of it failed or had to be dropped.
    expect(persister().failures).toBe(before.failures)
    expect(persister().goneRuns).toBe(before.gone)
  })

  test('DELETE /api/me stops all her runs (cancelled) before her sockets close, and leaves another user streaming untouched', async () => {
    const alice = await stack.userWithSocket('alice')
    const bob = await stack.userWithSocket('bob')
    const before = { failures: persister().failures, gone: persister().goneRuns }
    const { aliceRun, bobRun } = await bothStreaming(alice.ws, bob.ws)
    // A second run of hers, in another thread (waiting for the model, busy with the other two).
    const second = await alice.ws.chat('alice asks again')
    await alice.ws.waitFor((f) => f.type === 'agent_started' && f.runId === second.runId)

    const deleted = await stack.server.api('/api/me', {
      method: 'DELETE',
      token: alice.user.accessToken,
      body: { password: alice.user.password },
    })
    expect(deleted.status).toBe(204)
    // Her sessions end (the socket closes); each run's end reached her before that.
    expect((await alice.ws.closed).code).toBe(4401)
    expectStopped(alice.ws.eventsOf(aliceRun.runId))
    expectStopped(alice.ws.eventsOf(second.runId))
    const left = await rowsPerTable(stack.server.services.database.client, alice.user.id)
    expect(Object.entries(left).filter(([, n]) => n > 0)).toEqual([])

    await expectWhole(bob, bobRun)
    expect(persister().failures).toBe(before.failures)
    expect(persister().goneRuns).toBe(before.gone)
  })

  test('DELETE /api/me refused (409 last_admin) stops nothing', async () => {
    await stack.userWithSocket('member') // another account exists: the only admin may not go
    const run = await admin.ws.chat('alice, the admin, asks')
    await admin.ws.waitFor((f) => f.type === 'message_delta' && f.runId === run.runId)
    await expectError(
      await stack.server.api('/api/me', {
        method: 'DELETE',
        token: admin.user.accessToken,
        body: { password: admin.user.password },
      }),
      409,
      'last_admin',
    )
    const seen = admin.ws.eventsOf(run.runId).length
    await admin.ws.until(() => admin.ws.eventsOf(run.runId).length > seen + 10) // still streaming
    expect(admin.ws.eventsOf(run.runId).some((e) => e.type === 'agent_completed')).toBe(false)
    admin.ws.send({ type: 'cancel', runId: run.runId })
    expect((await admin.ws.completion(run.runId)).at(-1)).toMatchObject({ status: 'cancelled' })
  })
})
