/**
 * Large imports (PROTOCOL.md §6): one message may hold at most IMPORT_MAX_MESSAGE_CHARS
 * characters (its search indexing is one statement nothing can interrupt), and a large import is
 * written in small statements of one transaction that let the event loop in, so the server answers
 * other requests while it is written — and still stores all of it, or nothing.
 */
import { test, expect, setDefaultTimeout } from 'bun:test'
import { expectError, expectJson } from '../../support/http'
import { useTestServer } from '../../support/fixtures'
import { IMPORT_MAX_MESSAGE_CHARS } from '../../../src/threads/import'

setDefaultTimeout(60_000)

const {
  server,
  users: [user],
} = useTestServer({ users: ['bulk'] })

const importBody = (body: unknown) =>
  server.api('/api/threads/import', { token: user.accessToken, body: JSON.stringify(body) })
const rowsOwned = async (table: 'threads' | 'messages') =>
  Number(
    (
      await server.services.database.client.execute({
        sql: `SELECT count(*) AS n FROM ${table} WHERE user_id = ?`,
        args: [user.id],
      })
    ).rows[0].n,
  )

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
  const threads0 = await rowsOwned('threads')
  const messages0 = await rowsOwned('messages')
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
  expect(await rowsOwned('threads')).toBe(threads0)
  expect(await rowsOwned('messages')).toBe(messages0)
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

test('20,000 messages are stored whole, and /health is answered while they are written', async () => {
  const count = 20_000
  const threads0 = await rowsOwned('threads')
  const messages0 = await rowsOwned('messages')
  const { writes } = server.services.database
  // Watches, one event-loop turn at a time, for the import's write to be under way (the write
  // queue holds it); then asks /health. Before this fix the whole import was one statement batch
  // run without a turn in between, so no turn ever saw it under way.
  const order: string[] = []
  let done = false
  let health: Promise<void> | undefined
  const watch = () => {
    if (done) return
    if (!health && writes.pending > 0) {
      order.push('import writing')
      health = fetch(`${server.url}/health`).then(async (res) => {
        expect(res.status).toBe(200)
        await res.arrayBuffer()
        order.push('health answered')
      })
    }
    setImmediate(watch)
  }
  const body = { thread: { title: 'bulk', createdAt: at }, messages: chain(count, (i) => `bulk message ${i}`) }
  setImmediate(watch)
  const res = await importBody(body)
  order.push('import answered')
  done = true
  const { threads } = await expectJson(res, 201)
  await health
  expect(order.slice(0, 3)).toEqual(['import writing', 'health answered', 'import answered'])

  expect(await rowsOwned('threads')).toBe(threads0 + 1)
  expect(await rowsOwned('messages')).toBe(messages0 + count)
  const exported = await expectJson(
    await server.api(`/api/threads/${threads[0].id}/export`, { token: user.accessToken }),
  )
  expect(exported.messages).toHaveLength(count)
  expect(exported.messages.at(-1).content).toBe(`bulk message ${count - 1}`)
  expect(exported.thread.currentLeafId).toBe(exported.messages.at(-1).id)
})
