/**
 * Deleting a thread removes its runs and their events at once: neither GET /api/runs/:id/events
 * nor a `resume` may serve them from the in-memory journal afterwards (it stays in memory for
 * JOURNAL_GRACE_MS after a run ends, 60 s by default, which this stack keeps).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { startChatStack, type ChatStack } from '../../support/chat-stack'
import { expectError } from '../../support/http'

setDefaultTimeout(30_000) // real servers and sockets on a shared 2-core machine

let stack: ChatStack
beforeAll(async () => (stack = await startChatStack({ env: { JOURNAL_GRACE_MS: '600000' } })))
afterAll(() => stack.close())

describe('events of a deleted thread', () => {
  test('a finished run of a deleted thread is gone over HTTP and resume, though its journal is still in memory', async () => {
    const { user, ws } = await stack.userWithSocket()
    const { runId, threadId } = await ws.chat('soon deleted')
    await ws.completion(runId)
    const before = await stack.server.api(`/api/runs/${runId}/events?after=0`, { token: user.accessToken })
    expect(before.status).toBe(200) // readable while the thread exists

    expect(
      (await stack.server.api(`/api/threads/${threadId}`, { method: 'DELETE', token: user.accessToken })).status,
    ).toBe(204)

    await expectError(
      await stack.server.api(`/api/runs/${runId}/events?after=0`, { token: user.accessToken }),
      404,
      'not_found',
    )
    await expectError(await stack.server.api(`/api/runs/${runId}`, { token: user.accessToken }), 404, 'not_found')
    const from = ws.frames.length
    ws.send({ type: 'resume', runId, afterSeq: 0 })
    const error = await ws.waitFor((f) => f.type === 'error' && f.runId === runId)
    expect(error.code).toBe('not_found')
    expect(ws.frames.slice(from).filter((f) => f.runId === runId && typeof f.seq === 'number')).toEqual([])
  })
})
