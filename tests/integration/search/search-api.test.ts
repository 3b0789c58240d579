/**
 * GET /api/search (PROTOCOL.md §6) over a real server and database: own messages and titles
 * only, best match first, highlight ranges that point at the matched words, paging, and 400
 * for an empty query.
 */
import { test, expect, describe, setDefaultTimeout } from 'bun:test'
import type { TestUser } from '../../support/users'
import { expectError, expectJson } from '../../support/http'
import { asUser } from '../../support/db'
import { useTestServer } from '../../support/fixtures'

setDefaultTimeout(30_000)

const {
  server,
  users: [alice, bob],
  as,
} = useTestServer({ users: ['alice', 'bob'] })

async function thread(user: TestUser, title: string, contents: string[]) {
  const t = (await expectJson(await as(user)('/api/threads', { body: { title } }), 201)).thread
  const ids: string[] = []
  await asUser(user, async () => {
    for (const [i, content] of contents.entries())
      ids.push(
        (await server.services.repos.messages.add({ threadId: t.id, role: i % 2 ? 'assistant' : 'user', content })).id,
      )
  })
  return { id: t.id as string, ids }
}

const search = async (user: TestUser, q: string, extra = '') =>
  (await expectJson(await as(user)(`/api/search?q=${encodeURIComponent(q)}${extra}`))) as {
    results: any[]
    nextCursor: string | null
  }

describe('search', () => {
  test('finds own messages and titles with highlight ranges on the matched words', async () => {
    const trip = await thread(alice, 'Lisbon itinerary', [
      'Plan three days in Lisbon please',
      'Day one: Alfama and the castle. Day two: Belém.',
    ])
    await thread(bob, 'Lisbon for bob', ['bob also goes to Lisbon'])
    const { results, nextCursor } = await search(alice, 'lisbon')
    expect(nextCursor).toBeNull()
    expect(results.map((r) => r.threadId).every((id) => id === trip.id)).toBe(true)
    const title = results.find((r) => r.messageId === null)
    expect(title).toMatchObject({
      threadId: trip.id,
      threadTitle: 'Lisbon itinerary',
      role: null,
      snippet: 'Lisbon itinerary',
      highlights: [[0, 6]],
    })
    const message = results.find((r) => r.messageId === trip.ids[0])
    expect(message).toMatchObject({
      threadTitle: 'Lisbon itinerary',
      role: 'user',
      snippet: 'Plan three days in Lisbon please',
    })
    for (const r of results)
      for (const [start, end] of r.highlights) expect(r.snippet.slice(start, end).toLowerCase()).toBe('lisbon')
    expect(JSON.stringify(results)).not.toContain('bob')
    expect(results.every((r) => !/[\uE000\uE001<>]/.test(r.snippet))).toBe(true)
  })

  test('every word must match (stems too); the last word also as a prefix; best first', async () => {
    const t = await thread(alice, 'Cooking', [
      'the recipe for bread',
      'bread bread bread, baking bread all day',
      'nothing to see',
    ])
    expect((await search(alice, 'baking bread')).results.map((r) => r.messageId)).toEqual([t.ids[1]])
    expect((await search(alice, 'bake')).results.map((r) => r.messageId)).toEqual([t.ids[1]])
    expect((await search(alice, 'reci')).results.map((r) => r.messageId)).toEqual([t.ids[0]])
    const ranked = (await search(alice, 'bread')).results.map((r) => r.messageId)
    expect(ranked).toEqual([t.ids[1], t.ids[0]])
    // FTS syntax in user text is just words.
    expect((await search(alice, 'bread" OR NOT "x*')).results).toEqual([])
  })

  test('pages through many hits without repeats', async () => {
    const t = await thread(
      alice,
      'Many',
      Array.from({ length: 9 }, (_, i) => `walrus fact number ${i}`),
    )
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const page = await search(alice, 'walrus', `&limit=4${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
      seen.push(...page.results.map((r) => r.messageId))
      cursor = page.nextCursor
    } while (cursor)
    expect(seen.length).toBe(9)
    expect(new Set(seen)).toEqual(new Set(t.ids))
  })

  test('a cursor is sealed: it shows no score or row number, and one made up or altered is 400 invalid_cursor', async () => {
    await thread(
      alice,
      'Sealed',
      Array.from({ length: 3 }, (_, i) => `nightingale song ${i}`),
    )
    const first = await search(alice, 'nightingale', '&limit=1')
    const again = await search(alice, 'nightingale', '&limit=1')
    expect(first.nextCursor).toBeString()
    // Sealed afresh each time, and not the plain (score, kind, rowid) a cursor used to be.
    expect(again.nextCursor).not.toBe(first.nextCursor)
    expect(() => JSON.parse(Buffer.from(first.nextCursor!, 'base64url').toString('utf8'))).toThrow()
    expect(Buffer.from(first.nextCursor!, 'base64url').toString('latin1')).not.toMatch(/-?\d+\.\d+/)
    const next = await search(alice, 'nightingale', `&limit=1&cursor=${first.nextCursor}`)
    expect(next.results[0].messageId).not.toBe(first.results[0].messageId)
    // The plain key a client could forge, and a sealed cursor with one byte changed.
    const plain = Buffer.from(JSON.stringify([-1, 1, 1])).toString('base64url')
    const box = Buffer.from(first.nextCursor!, 'base64url')
    box[box.length - 1] ^= 1
    for (const cursor of [plain, box.toString('base64url')])
      await expectError(await as(alice)(`/api/search?q=nightingale&cursor=${cursor}`), 400, 'invalid_cursor')
  })

  test('an empty or missing q is 400; bad limit or cursor too; no token is 401', async () => {
    for (const path of [
      '/api/search',
      '/api/search?q=',
      '/api/search?q=%20%20',
      '/api/search?q=x&limit=0',
      '/api/search?q=x&cursor=zz',
    ])
      await expectError(await as(alice)(path), 400)
    await expectError(await server.api('/api/search?q=lisbon'), 401)
    expect((await search(alice, '!!!')).results).toEqual([])
  })

  test("the full-text matches are read first, then joined to the user's rows (not a MATCH per row)", async () => {
    for (const [fts, table] of [
      ['threads_fts', 'threads'],
      ['messages_fts', 'messages'],
      ['notes_fts', 'notes'],
    ]) {
      const plan = await server.services.database.client.execute(
        `EXPLAIN QUERY PLAN SELECT x.id FROM ${fts} CROSS JOIN ${table} x ON x.rowid = ${fts}.rowid WHERE ${fts} MATCH 'a' AND x.user_id = 'u'`,
      )
      expect(String(plan.rows[0].detail)).toStartWith(`SCAN ${fts}`)
    }
    // The statements the repositories run use that shape; messages rank their matches in a
    // subquery of the index first, then join those to the user's rows.
    const [search, notes, messageMatches] = await Promise.all(
      ['search', 'notes', 'message-matches'].map((f) =>
        Bun.file(`${import.meta.dir}/../../../src/db/repositories/${f}.ts`).text(),
      ),
    )
    for (const source of [search, notes]) expect(source).toMatch(/_fts CROSS JOIN/)
    expect(messageMatches).toMatch(/FROM messages_fts WHERE messages_fts MATCH/)
    expect(messageMatches).toMatch(/\) c\s+CROSS JOIN messages m ON m\.rowid = c\.rowid/)
    expect(messageMatches).toMatch(/FROM candidates c CROSS JOIN messages m ON m\.rowid = c\.rowid/)
    expect([search, notes, messageMatches].join('\n')).not.toMatch(/_fts JOIN|\bc JOIN/)
  })

  test('deleted threads and renamed titles are followed by the index', async () => {
    const t = await thread(alice, 'Zebra notes', ['zebras have stripes'])
    await expectJson(await as(alice)(`/api/threads/${t.id}`, { method: 'PATCH', body: { title: 'Okapi notes' } }))
    expect((await search(alice, 'okapi')).results.map((r) => r.threadTitle)).toEqual(['Okapi notes'])
    expect((await search(alice, 'zebra')).results.map((r) => r.messageId)).toEqual([t.ids[0]])
    expect((await as(alice)(`/api/threads/${t.id}`, { method: 'DELETE' })).status).toBe(204)
    expect((await search(alice, 'zebra')).results).toEqual([])
    expect((await search(alice, 'okapi')).results).toEqual([])
  })
})
