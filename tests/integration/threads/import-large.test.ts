/**
 * Large imports (PROTOCOL.md §6): one message may hold at most IMPORT_MAX_MESSAGE_CHARS
 * characters (its search indexing is one statement nothing can interrupt), and a large import is
 * written in small statements of one transaction that let the event loop in, so the server answers
 * other requests while it is written — and still stores all of it, or nothing.
 */
import { test, expect, setDefaultTimeout } from 'bun:test'
import { expectError, expectJson } from '../../support/http'
import { useTestServer } from '../../support/fixtures'
import { rowsOwned } from '../../support/db'
import { IMPORT_MAX_MESSAGE_CHARS } from '../../../src/threads/import'

setDefaultTimeout(60_000)

const {
  server,
  users: [user],
} = useTestServer({ users: ['bulk'] })

const importBody = (body: unknown) =>
  server.api('/api/threads/import', { token: user.accessToken, body: JSON.stringify(body) })
const owned = (table: 'threads' | 'messages') => rowsOwned(server.services.database, table, user.id)

const at = '2025-05-01T12:00:00.000Z'
const chain = (count: number, content: (i: number) => string) =>
  Array.from({ length: count }, (_, i) => ({
    id: `m${i}`,
    parentId: i ? `m${i - 1}` : null,
    role: i % 2 ? 'assistant' : 'user',
    content: content(i),
    createdAt: at,
  }))

test('a message longer than IMPORT_MAX_MESSAGE_CHARS is 400 invalid_import naming where, and nothing is written', async () => {
  const tooLong = 'word '.repeat(IMPORT_MAX_MESSAGE_CHARS / 5) + 'x'
  const threads0 = await owned('threads')
  const messages0 = await owned('messages')
  const ours = { thread: { title: 'long', createdAt: at }, messages: chain(3, (i) => (i === 2 ? tooLong : 'short')) }
  const account = { threads: [{ thread: { title: 'fine', createdAt: at }, messages: chain(2, () => 'ok') }, ours] }
  const chatgpt = [
    {
      title: 'long',
      create_time: 1,
      mapping: { a: { parent: null, message: { author: { role: 'user' }, content: { parts: [tooLong] } } } },
    },
  ]
  const cases: [unknown, string][] = [
    [ours, '/messages/2/content'],
    [account, '/threads/1/messages/2/content'],
    [chatgpt, '/0/mapping/a/message/content'],
  ]
  for (const [body, where] of cases) {
    const { error } = await expectError(await importBody(body), 400, 'invalid_import')
    expect(error.message).toBe(
      `${where}: the message has ${tooLong.length} characters; at most ${IMPORT_MAX_MESSAGE_CHARS} are taken`,
    )
  }
  expect(await owned('threads')).toBe(threads0)
  expect(await owned('messages')).toBe(messages0)
  // One of exactly the cap is taken whole, and found by search.
  const atCap = `needle ${'w'.repeat(IMPORT_MAX_MESSAGE_CHARS - 7)}`
  const { threads } = await expectJson(
    await importBody({ thread: { title: 'at the cap', createdAt: at }, messages: chain(1, () => atCap) }),
    201,
  )
  const { messages } = await expectJson(
    await server.api(`/api/threads/${threads[0].id}/messages`, { token: user.accessToken }),
  )
  expect(messages.map((m: any) => m.content.length)).toEqual([IMPORT_MAX_MESSAGE_CHARS])
})

/**
 * Runs `work` while watching, one event-loop turn at a time, for a write to be under way (the
 * write queue holds it); then asks /health once. The order of what happened: a write that holds
 * the loop from start to end is never seen under way, so /health comes after `work`'s answer.
 */
async function orderAround<T>(work: () => Promise<T>): Promise<{ result: T; order: string[] }> {
  const { writes } = server.services.database
  const order: string[] = []
  let done = false
  let health: Promise<void> | undefined
  const watch = () => {
    if (done) return
    if (!health && writes.pending > 0) {
      order.push('writing')
      health = fetch(`${server.url}/health`).then(async (res) => {
        expect(res.status).toBe(200)
        await res.arrayBuffer()
        order.push('health answered')
      })
    }
    setImmediate(watch)
  }
  setImmediate(watch)
  const result = await work()
  order.push('answered')
  done = true
  await health
  return { result, order }
}

const COUNT = 20_000
let bulkThread: string

test('20,000 messages are stored whole, and /health is answered while they are written', async () => {
  const threads0 = await owned('threads')
  const messages0 = await owned('messages')
  const body = { thread: { title: 'bulk', createdAt: at }, messages: chain(COUNT, (i) => `bulk message ${i}`) }
  const { result: res, order } = await orderAround(() => importBody(body))
  const { threads } = await expectJson(res, 201)
  expect(order.slice(0, 3)).toEqual(['writing', 'health answered', 'answered'])
  bulkThread = threads[0].id

  expect(await owned('threads')).toBe(threads0 + 1)
  expect(await owned('messages')).toBe(messages0 + COUNT)
  const exported = await expectJson(await server.api(`/api/threads/${bulkThread}/export`, { token: user.accessToken }))
  expect(exported.messages).toHaveLength(COUNT)
  expect(exported.messages.at(-1).content).toBe(`bulk message ${COUNT - 1}`)
  expect(exported.thread.currentLeafId).toBe(exported.messages.at(-1).id)
})

test('deleting those 20,000 messages leaves none (nor any search hit), and /health is answered meanwhile', async () => {
  const messages0 = await owned('messages')
  const { result: res, order } = await orderAround(() =>
    server.api(`/api/threads/${bulkThread}`, { token: user.accessToken, method: 'DELETE' }),
  )
  expect(res.status).toBe(204)
  expect(order.slice(0, 3)).toEqual(['writing', 'health answered', 'answered'])
  expect(await owned('messages')).toBe(messages0 - COUNT)
  expect((await server.api(`/api/threads/${bulkThread}`, { token: user.accessToken })).status).toBe(404)
  const search = await expectJson(await server.api('/api/search?q=bulk', { token: user.accessToken }))
  expect(JSON.stringify(search)).not.toContain('bulk message')
})
