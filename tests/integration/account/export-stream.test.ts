/**
 * GET /api/me/export is streamed (src/account/export-stream.ts): the same document, read a page
 * of messages or dataset rows at a time. Here the pages are crossed (a thread of more messages
 * and a dataset of more rows than one page holds), the document keeps its fields in their order
 * and imports back, another user's rows stay out, and a read that fails part way breaks the
 * download off instead of ending it as a short document.
 */
import { test, expect, beforeAll, afterAll, setDefaultTimeout } from 'bun:test'
import { createClient } from '@libsql/client'
import { startTestServer, type TestServer } from '../../support/server'
import { registerUser, type TestUser } from '../../support/users'
import { expectJson } from '../../support/http'

setDefaultTimeout(60_000)

let server: TestServer
let alice: TestUser
let bob: TestUser
const bobSecret = `bob-secret-${crypto.randomUUID()}`
/** More than one page of each (500 messages, 1000 rows a page). */
const MESSAGES = 1_201
const ROWS = 2_345
/** Enough rows that the first chunks (64 KiB) are sent before the damaged one is read. */
const DAVE_ROWS = 10_000

const csvOf = (rows: number, marker: string) =>
  ['n,label', ...Array.from({ length: rows }, (_, i) => `${i},${marker}-${i}`)].join('\n')

function longThread(title: string, count: number, marker: string) {
  const at = Date.parse('2024-03-01T10:00:00Z')
  return {
    thread: { title, createdAt: new Date(at).toISOString() },
    messages: Array.from({ length: count }, (_, i) => ({
      id: `m${i}`,
      parentId: i ? `m${i - 1}` : null,
      role: i % 2 ? 'assistant' : 'user',
      content: `${marker} message ${i}`,
      // Several messages share each second, so paging by (createdAt, id) must break ties.
      createdAt: new Date(at + Math.floor(i / 3) * 1000).toISOString(),
    })),
  }
}

async function fill(user: TestUser, marker: string) {
  const api = (path: string, body: unknown) => server.api(path, { token: user.accessToken, body })
  await expectJson(await api('/api/threads/import', longThread(`long ${marker}`, MESSAGES, marker)), 201)
  await expectJson(await api('/api/threads/import', longThread(`short ${marker}`, 3, marker)), 201)
  await expectJson(await api('/api/datasets', { name: 'big', csv: csvOf(ROWS, marker) }), 201)
  await expectJson(await api('/api/datasets', { name: 'small', csv: csvOf(2, marker) }), 201)
  await expectJson(await api('/api/notes', { title: `note ${marker}`, body: 'b' }), 201)
}

beforeAll(async () => {
  server = await startTestServer()
  alice = await registerUser(server, 'alice')
  bob = await registerUser(server, 'bob')
  await fill(alice, 'alice')
  await fill(bob, bobSecret)
})
afterAll(async () => {
  await server?.close()
})

test('a thread and a dataset longer than a page come out whole, in order, fields as before; nothing of bob', async () => {
  const res = await server.api('/api/me/export', { token: alice.accessToken })
  expect(res.status).toBe(200)
  expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="chat-export-[\d-]+\.json"$/)
  expect(res.headers.get('cache-control')).toBe('no-store')
  const text = await res.text()
  expect(text).not.toContain(bobSecret)
  expect(text).not.toContain(bob.id)
  const doc = JSON.parse(text)
  expect(Object.keys(doc)).toEqual([
    'format',
    'version',
    'exportedAt',
    'profile',
    'threads',
    'notes',
    'datasets',
    'documents',
    'shares',
    'apiKeys',
    'runs',
    'usage',
  ])
  expect(doc).toMatchObject({ format: 'local-chat-server/account-export', version: 1, profile: { id: alice.id } })

  expect(doc.threads.map((t: any) => t.thread.title)).toEqual(['long alice', 'short alice'])
  for (const t of doc.threads) {
    // Each thread exactly as its own export writes it.
    const own = await expectJson(await server.api(`/api/threads/${t.thread.id}/export`, { token: alice.accessToken }))
    expect(Object.keys(t)).toEqual(Object.keys(own))
    expect(t).toEqual({ ...own, exportedAt: expect.any(String) })
  }
  const long = doc.threads[0].messages
  expect(long).toHaveLength(MESSAGES)
  expect(new Set(long.map((m: any) => m.id)).size).toBe(MESSAGES)
  expect(long.map((m: any) => m.content)).toEqual(Array.from({ length: MESSAGES }, (_, i) => `alice message ${i}`))

  expect(doc.datasets.map((d: any) => [d.name, d.rowCount, d.rows.length])).toEqual([
    ['big', ROWS, ROWS],
    ['small', 2, 2],
  ])
  expect(Object.keys(doc.datasets[0])).toEqual(['id', 'name', 'columns', 'rowCount', 'createdAt', 'rows'])
  expect(doc.datasets[0].rows.map((r: any) => r.n)).toEqual(Array.from({ length: ROWS }, (_, i) => i))
  expect(doc.datasets[0].rows[ROWS - 1]).toEqual({ n: ROWS - 1, label: `alice-${ROWS - 1}` })
  expect(doc.notes).toEqual([expect.objectContaining({ title: 'note alice' })])
})

test('the streamed export imports back as another user: every thread with every message', async () => {
  const doc = await expectJson(await server.api('/api/me/export', { token: alice.accessToken }))
  const carol = await registerUser(server, 'carol')
  const imported = await expectJson(
    await server.api('/api/threads/import', { token: carol.accessToken, body: doc }),
    201,
  )
  expect(imported.threads).toHaveLength(2)
  const back = await expectJson(await server.api('/api/me/export', { token: carol.accessToken }))
  expect(back.threads.map((t: any) => [t.thread.title, t.messages.length])).toEqual([
    ['long alice', MESSAGES],
    ['short alice', 3],
  ])
})

test('a row that cannot be read part way breaks the download off: no short document that parses', async () => {
  const dave = await registerUser(server, 'dave')
  await expectJson(
    await server.api('/api/threads/import', { token: dave.accessToken, body: longThread('t', 3, 'd') }),
    201,
  )
  const { dataset } = await expectJson(
    await server.api('/api/datasets', { token: dave.accessToken, body: { name: 'd', csv: csvOf(DAVE_ROWS, 'dave') } }),
    201,
  )
  // A damaged row in the database itself (what a bad disk or a bad migration would leave),
  // after the profile, the threads and the first page of rows have been written.
  const raw = createClient({ url: server.config.databaseUrl })
  try {
    await raw.execute({
      sql: 'UPDATE dataset_rows SET data = ? WHERE dataset_id = ? AND idx = ?',
      args: ['{not json', dataset.id, DAVE_ROWS - 10],
    })
  } finally {
    raw.close()
  }
  // Whether the answer's head went out before the failure depends on how much was sent first;
  // either way the client must see a failed transfer, never a document.
  const read = await server
    .api('/api/me/export', { token: dave.accessToken })
    .then((res) => res.text())
    .then(
      (text) => ({ text }),
      (error: unknown) => ({ error }),
    )
  expect(read).toEqual({ error: expect.anything() })
  // The server goes on answering, and other exports are whole.
  expect((await server.api('/api/me/export', { token: alice.accessToken })).status).toBe(200)
})
