/**
 * /api/threads over real HTTP (PROTOCOL.md §2): CRUD, newest-first listing, title validation,
 * malformed JSON, and the error envelope for unknown routes.
 */
import { test, expect, describe, setDefaultTimeout } from 'bun:test'
import { startTestServer } from '../../support/server'
import { registerUser } from '../../support/users'
import { expectError, expectJson } from '../../support/http'
import { asUser } from '../../support/db'
import { useTestServer } from '../../support/fixtures'

// A hang guard, not a speed bound: argon2 and real servers are slow on a loaded 2-core machine.
// Set per file because bun 1.4 applies a preload's setDefaultTimeout to the first file only.
setDefaultTimeout(30_000)

const {
  server,
  users: [user],
} = useTestServer({ users: ['threads'] })

const api = (path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
  server.api(path, { token: user.accessToken, ...init })
const create = async (title?: string) =>
  (await expectJson(await api('/api/threads', { body: title === undefined ? {} : { title } }), 201)).thread

describe('CRUD', () => {
  test('create, read, rename, list and delete a thread', async () => {
    const thread = await create('Trip to Lisbon')
    expect(Object.keys(thread).sort()).toEqual(['archived', 'createdAt', 'id', 'pinned', 'title', 'updatedAt'])
    expect(thread).toMatchObject({ pinned: false, archived: false })
    expect(thread.title).toBe('Trip to Lisbon')
    expect(new Date(thread.createdAt).toISOString()).toBe(thread.createdAt)
    expect(thread.updatedAt).toBe(thread.createdAt)

    expect(await expectJson(await api(`/api/threads/${thread.id}`))).toEqual({ thread })

    const renamed = (
      await expectJson(
        await api(`/api/threads/${thread.id}`, { method: 'PATCH', body: { title: '  Trip to Porto  ' } }),
      )
    ).thread
    expect(renamed).toMatchObject({ id: thread.id, title: 'Trip to Porto', createdAt: thread.createdAt })
    expect(Date.parse(renamed.updatedAt)).toBeGreaterThanOrEqual(Date.parse(thread.updatedAt))
    expect((await expectJson(await api(`/api/threads/${thread.id}`))).thread).toEqual(renamed)

    const listed = (await expectJson(await api('/api/threads'))).threads
    expect(listed).toContainEqual(renamed)

    expect(await expectJson(await api(`/api/threads/${thread.id}/messages`))).toEqual({
      messages: [],
      nextCursor: null,
    })

    const deleted = await api(`/api/threads/${thread.id}`, { method: 'DELETE' })
    expect(deleted.status).toBe(204)
    expect(await deleted.text()).toBe('')
    await expectError(await api(`/api/threads/${thread.id}`), 404, 'not_found')
    await expectError(await api(`/api/threads/${thread.id}`, { method: 'DELETE' }), 404, 'not_found')
    await expectError(await api(`/api/threads/${thread.id}/messages`), 404, 'not_found')
    expect((await expectJson(await api('/api/threads'))).threads.map((t: any) => t.id)).not.toContain(thread.id)
  })

  test('without a title (no body, empty object, blank title) a thread is "New chat"', async () => {
    const noBody = (await expectJson(await api('/api/threads', { method: 'POST' }), 201)).thread
    expect(noBody.title).toBe('New chat')
    expect((await create()).title).toBe('New chat')
    expect((await create('   ')).title).toBe('New chat')
  })

  test('messages come back oldest first with their documented fields; deleting the thread takes them', async () => {
    const thread = await create('with messages')
    const { messages } = server.services.repos
    await asUser(user, async () => {
      await messages.add({ threadId: thread.id, role: 'user', content: 'first' })
      await messages.add({ threadId: thread.id, role: 'assistant', content: 'second', agent: 'triage', runId: 'run-1' })
    })
    const listed = (await expectJson(await api(`/api/threads/${thread.id}/messages`))).messages
    expect(listed).toEqual([
      {
        id: expect.any(String),
        role: 'user',
        content: 'first',
        createdAt: expect.any(String),
        parentId: null,
        siblingIds: [listed[0].id],
      },
      {
        id: expect.any(String),
        role: 'assistant',
        content: 'second',
        agent: 'triage',
        runId: 'run-1',
        createdAt: expect.any(String),
        parentId: listed[0].id,
        siblingIds: [listed[1].id],
        status: 'completed',
      },
    ])
    expect((await api(`/api/threads/${thread.id}`, { method: 'DELETE' })).status).toBe(204)
    const left = await server.services.database.client.execute({
      sql: 'SELECT count(*) AS n FROM messages WHERE thread_id = ?',
      args: [thread.id],
    })
    expect(Number(left.rows[0].n)).toBe(0)
  })
})

describe('listing', () => {
  test('own threads only, newest first', async () => {
    const fresh = await registerUser(server, 'lister')
    const as = (path: string, init: any = {}) => server.api(path, { token: fresh.accessToken, ...init })
    expect(await expectJson(await as('/api/threads'))).toEqual({ threads: [], nextCursor: null })
    const made = []
    for (const title of ['one', 'two', 'three', 'four'])
      made.push((await expectJson(await as('/api/threads', { body: { title } }), 201)).thread)
    const listed = (await expectJson(await as('/api/threads'))).threads
    expect(listed.map((t: any) => t.title)).toEqual(['four', 'three', 'two', 'one'])
    expect(listed).toEqual([...made].reverse())
    for (let i = 1; i < listed.length; i++)
      expect(Date.parse(listed[i - 1].updatedAt)).toBeGreaterThanOrEqual(Date.parse(listed[i].updatedAt))
  })
})

describe('validation', () => {
  test('titles: 1 to 200 characters after trimming, and a string', async () => {
    const thread = await create('valid')
    const path = `/api/threads/${thread.id}`
    await expectError(await api(path, { method: 'PATCH', body: { title: '' } }), 400, 'invalid_input')
    await expectError(await api(path, { method: 'PATCH', body: { title: '   ' } }), 400, 'invalid_input')
    await expectError(await api(path, { method: 'PATCH', body: { title: 'x'.repeat(201) } }), 400, 'invalid_input')
    await expectError(await api(path, { method: 'PATCH', body: { title: 42 } }), 400, 'invalid_input')
    await expectError(await api(path, { method: 'PATCH', body: {} }), 400, 'invalid_input')
    await expectError(await api('/api/threads', { body: { title: 'x'.repeat(201) } }), 400, 'invalid_input')
    await expectError(await api('/api/threads', { body: { title: ['a'] } }), 400, 'invalid_input')
    // 200 is fine; the rejected attempts changed nothing.
    expect(
      (await expectJson(await api(path, { method: 'PATCH', body: { title: 'y'.repeat(200) } }))).thread.title,
    ).toBe('y'.repeat(200))
  })

  test('invalid JSON → 400 invalid_json', async () => {
    await expectError(await api('/api/threads', { body: '{"title": ' }), 400, 'invalid_json')
    await expectError(await api('/api/threads', { body: '{title: "x"}' }), 400, 'invalid_json')
    const thread = await create('json')
    await expectError(
      await api(`/api/threads/${thread.id}`, { method: 'PATCH', body: 'not json' }),
      400,
      'invalid_json',
    )
    await expectError(await server.api('/api/auth/login', { body: '{"email":' }), 400, 'invalid_json')
  })

  test('an over-long id is 400, an unknown one 404', async () => {
    await expectError(await api(`/api/threads/${'x'.repeat(65)}`), 400, 'invalid_input')
    await expectError(await api(`/api/threads/${crypto.randomUUID()}`), 404, 'not_found')
  })
})

describe('routes and auth', () => {
  test('unknown routes → 404 with the error envelope, with or without a token', async () => {
    await expectError(await api('/api/nope'), 404, 'not_found')
    await expectError(await server.api('/api/nope'), 404, 'not_found')
    await expectError(await server.api('/api/threads/x/y/z', { method: 'POST', body: {} }), 404, 'not_found')
  })

  test('every thread route needs a token', async () => {
    const thread = await create('auth')
    for (const [method, path] of [
      ['GET', '/api/threads'],
      ['POST', '/api/threads'],
      ['GET', `/api/threads/${thread.id}`],
      ['PATCH', `/api/threads/${thread.id}`],
      ['DELETE', `/api/threads/${thread.id}`],
      ['GET', `/api/threads/${thread.id}/messages`],
    ]) {
      const body = method === 'POST' || method === 'PATCH' ? { title: 'x' } : undefined
      await expectError(await server.api(path, { method, body }), 401)
    }
    expect((await expectJson(await api(`/api/threads/${thread.id}`))).thread.title).toBe('auth')
  })

  test('/health and /ready answer without auth; /ready says the database is up and Ollama is not', async () => {
    expect(await expectJson(await server.api('/health'))).toEqual({ status: 'ok' })
    expect(await expectJson(await server.api('/ready'))).toMatchObject({
      status: 'ready',
      database: 'ok',
      ollama: 'unreachable',
    })
  })

  test('/ready is 503 when the database does not answer (and /health stays up)', async () => {
    const broken = await startTestServer()
    try {
      broken.services.database.close()
      const res = await broken.api('/ready')
      expect(res.status).toBe(503)
      expect(await res.json()).toMatchObject({ status: 'unavailable', database: 'unreachable' })
      expect(await expectJson(await broken.api('/health'))).toEqual({ status: 'ok' })
    } finally {
      await broken.close()
    }
  })
})

describe('request size', () => {
  test('a body over 8 MiB is 413 with the error envelope', async () => {
    const res = await server.api('/api/threads', {
      token: user.accessToken,
      body: { title: 'x'.repeat(9 * 1024 * 1024) },
    })
    expect(res.status).toBe(413)
    expect(((await res.json()) as any).error.code).toBe('payload_too_large')
  })
})
