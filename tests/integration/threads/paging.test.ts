/**
 * Paging of the lists (PROTOCOL.md §5) and organising threads (§6): `limit`/`cursor`/
 * `nextCursor` on threads, messages, notes and datasets; keyset cursors that neither repeat
 * nor skip while rows are added; a forged cursor is 400 invalid_cursor on every list; pinned
 * first; archived apart.
 */
import { test, expect, describe, setDefaultTimeout } from 'bun:test'
import { apiAs, registerUser } from '../../support/users'
import { expectError, expectJson } from '../../support/http'
import { asUser } from '../../support/db'
import { useTestServer } from '../../support/fixtures'
import { startTestServer } from '../../support/server'

setDefaultTimeout(30_000)

const { server, as } = useTestServer()

/** Follows `nextCursor` until null; returns every page's items. */
async function allPages(get: (path: string) => Promise<Response>, base: string, key: string, limit: number) {
  const pages: any[][] = []
  let cursor: string | null = null
  do {
    const sep = base.includes('?') ? '&' : '?'
    const body: any = await expectJson(
      await get(`${base}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`),
    )
    pages.push(body[key])
    cursor = body.nextCursor
    expect(pages.length).toBeLessThan(100)
  } while (cursor)
  return pages
}

describe('threads', () => {
  test('pages cover every thread once, in order; the last page says nextCursor null', async () => {
    const user = await registerUser(server, 'pager')
    const api = as(user)
    for (let i = 0; i < 7; i++) await expectJson(await api('/api/threads', { body: { title: `t${i}` } }), 201)
    const pages = await allPages(api, '/api/threads', 'threads', 3)
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1])
    expect(pages.flat().map((t) => t.title)).toEqual(['t6', 't5', 't4', 't3', 't2', 't1', 't0'])
    const exact = await allPages(api, '/api/threads', 'threads', 7)
    expect(exact.map((p) => p.length)).toEqual([7])
    const defaults: any = await expectJson(await api('/api/threads'))
    expect(defaults.threads.length).toBe(7)
    expect(defaults.nextCursor).toBeNull()
  })

  test('threads added between pages neither repeat nor shift what follows', async () => {
    const user = await registerUser(server, 'growing')
    const api = as(user)
    for (let i = 0; i < 6; i++) await expectJson(await api('/api/threads', { body: { title: `old${i}` } }), 201)
    const first: any = await expectJson(await api('/api/threads?limit=2'))
    expect(first.threads.map((t: any) => t.title)).toEqual(['old5', 'old4'])
    for (let i = 0; i < 3; i++) await expectJson(await api('/api/threads', { body: { title: `new${i}` } }), 201)
    const rest = await allPages(
      (p) => api(p),
      `/api/threads?cursor=${encodeURIComponent(first.nextCursor)}`,
      'threads',
      2,
    )
    expect(rest.flat().map((t) => t.title)).toEqual(['old3', 'old2', 'old1', 'old0'])
  })

  test('limit outside 1–200, or a cursor we did not give out, is a 400', async () => {
    const user = await registerUser(server, 'limits')
    const api = as(user)
    for (const limit of ['0', '201', '-1', 'abc', '1.5', ''])
      await expectError(await api(`/api/threads?limit=${limit}`), 400)
    await expectJson(await api('/api/threads?limit=200'))
    await expectJson(await api('/api/threads?limit=1'))
    await expectError(await api('/api/threads?cursor=not-a-cursor'), 400, 'invalid_cursor')
    await expectError(
      await api(`/api/threads?cursor=${Buffer.from('[1]').toString('base64url')}`),
      400,
      'invalid_cursor',
    )
    for (const path of ['/api/notes', '/api/datasets']) {
      await expectError(await api(`${path}?limit=0`), 400)
      await expectError(await api(`${path}?cursor=%%%`), 400)
    }
  })

  test('every paged list answers a cursor it did not give out with 400 invalid_cursor', async () => {
    // A server of its own, whose first account is the admin, so the admin lists are walked too.
    const own = await startTestServer()
    try {
      await walkForgedCursors(apiAs(own, await registerUser(own, 'cursor-admin')))
    } finally {
      await own.close()
    }
  })

  async function walkForgedCursors(api: ReturnType<typeof apiAs>) {
    const { thread } = await expectJson(await api('/api/threads', { body: { title: 'cursors' } }), 201)
    const lists = [
      '/api/threads',
      `/api/threads/${thread.id}/messages`,
      '/api/notes',
      '/api/datasets',
      '/api/documents',
      '/api/search?q=cursors',
      '/api/keys',
      '/api/shares',
      '/api/admin/users',
      '/api/admin/usage',
      '/api/admin/audit',
    ]
    const forged = ['not-a-cursor', Buffer.from('["x"]').toString('base64url'), Buffer.from('{}').toString('base64url')]
    for (const path of lists)
      for (const cursor of forged) {
        const res = await api(`${path}${path.includes('?') ? '&' : '?'}cursor=${cursor}`)
        expect({ path, cursor, status: res.status, code: (await res.json()).error?.code }).toEqual({
          path,
          cursor,
          status: 400,
          code: 'invalid_cursor',
        })
      }
  }

  test('the page query is a keyset walk of the list index (its cost does not grow with the rows)', async () => {
    const plan = await server.services.database.client.execute(
      `EXPLAIN QUERY PLAN SELECT * FROM threads WHERE user_id = 'u' AND archived = 0 AND (pinned, updated_at, id) < (1, 5, 'x') ORDER BY pinned DESC, updated_at DESC, id DESC LIMIT 51`,
    )
    const details = plan.rows.map((r) => String(r.detail)).join('\n')
    expect(details).toContain('threads_user_list')
    expect(details).not.toContain('USE TEMP B-TREE')
  })
})

describe('pin and archive', () => {
  test('pinned threads come first; archived ones leave the list and show under ?archived=true', async () => {
    const user = await registerUser(server, 'organiser')
    const api = as(user)
    const made: any[] = []
    for (const title of ['a', 'b', 'c', 'd'])
      made.push((await expectJson(await api('/api/threads', { body: { title } }), 201)).thread)
    const pinned = (
      await expectJson(await api(`/api/threads/${made[0].id}`, { method: 'PATCH', body: { pinned: true } }))
    ).thread
    expect(pinned).toMatchObject({ title: 'a', pinned: true, archived: false, updatedAt: made[0].updatedAt })
    const archived = (
      await expectJson(await api(`/api/threads/${made[2].id}`, { method: 'PATCH', body: { archived: true } }))
    ).thread
    expect(archived.archived).toBe(true)

    expect((await expectJson(await api('/api/threads'))).threads.map((t: any) => t.title)).toEqual(['a', 'd', 'b'])
    expect((await expectJson(await api('/api/threads?archived=true'))).threads.map((t: any) => t.title)).toEqual(['c'])
    const pages = await allPages(api, '/api/threads', 'threads', 1)
    expect(pages.flat().map((t) => t.title)).toEqual(['a', 'd', 'b'])

    await expectJson(
      await api(`/api/threads/${made[2].id}`, { method: 'PATCH', body: { archived: false, title: 'c again' } }),
    )
    expect((await expectJson(await api('/api/threads'))).threads.map((t: any) => t.title)).toEqual([
      'a',
      'c again',
      'd',
      'b',
    ])
    expect((await expectJson(await api('/api/threads?archived=true'))).threads).toEqual([])
  })

  test('bad values are 400 and change nothing; another user cannot pin my thread', async () => {
    const user = await registerUser(server, 'strict')
    const api = as(user)
    const thread = (await expectJson(await api('/api/threads', { body: { title: 'mine' } }), 201)).thread
    for (const body of [{ pinned: 'yes' }, { archived: 1 }, {}, { pinned: null }])
      await expectError(await api(`/api/threads/${thread.id}`, { method: 'PATCH', body }), 400)
    await expectError(await api('/api/threads?archived=maybe'), 400)
    const stranger = await registerUser(server, 'stranger')
    await expectError(
      await as(stranger)(`/api/threads/${thread.id}`, { method: 'PATCH', body: { pinned: true } }),
      404,
      'not_found',
    )
    expect((await expectJson(await api(`/api/threads/${thread.id}`))).thread).toEqual(thread)
  })
})

describe('messages, notes, datasets', () => {
  test('messages page oldest first along the branch', async () => {
    const user = await registerUser(server, 'talker')
    const api = as(user)
    const thread = (await expectJson(await api('/api/threads', { body: { title: 'long' } }), 201)).thread
    await asUser(user, async () => {
      for (let i = 0; i < 5; i++)
        await server.services.repos.messages.add({
          threadId: thread.id,
          role: i % 2 ? 'assistant' : 'user',
          content: `m${i}`,
        })
    })
    const pages = await allPages(api, `/api/threads/${thread.id}/messages`, 'messages', 2)
    expect(pages.map((p) => p.map((m: any) => m.content))).toEqual([['m0', 'm1'], ['m2', 'm3'], ['m4']])
    await expectError(await api(`/api/threads/${thread.id}/messages?limit=500`), 400)

    // Messages added after the first page do not restart or shift the branch being read.
    const first: any = await expectJson(await api(`/api/threads/${thread.id}/messages?limit=2`))
    await asUser(user, () => server.services.repos.messages.add({ threadId: thread.id, role: 'user', content: 'm5' }))
    const second: any = await expectJson(
      await api(`/api/threads/${thread.id}/messages?limit=2&cursor=${encodeURIComponent(first.nextCursor)}`),
    )
    expect(second.messages.map((m: any) => m.content)).toEqual(['m2', 'm3'])
    const third: any = await expectJson(
      await api(`/api/threads/${thread.id}/messages?limit=2&cursor=${encodeURIComponent(second.nextCursor)}`),
    )
    expect(third.messages.map((m: any) => m.content)).toEqual(['m4'])
    expect(third.nextCursor).toBeNull()
    // A cursor naming messages of another thread, or made up, is refused.
    const other = (await expectJson(await api('/api/threads', { body: { title: 'other' } }), 201)).thread
    await expectError(
      await api(`/api/threads/${other.id}/messages?cursor=${encodeURIComponent(first.nextCursor)}`),
      400,
      'invalid_cursor',
    )
  })

  test('notes and datasets page newest first', async () => {
    const user = await registerUser(server, 'keeper')
    const api = as(user)
    for (let i = 0; i < 5; i++) await expectJson(await api('/api/notes', { body: { title: `n${i}`, body: 'b' } }), 201)
    const notes = await allPages(api, '/api/notes', 'notes', 2)
    expect(notes.flat().map((n) => n.title)).toEqual(['n4', 'n3', 'n2', 'n1', 'n0'])
    for (let i = 0; i < 3; i++)
      await expectJson(await api('/api/datasets', { body: { name: `d${i}`, csv: 'a,b\n1,2\n' } }), 201)
    const datasets = await allPages(api, '/api/datasets', 'datasets', 2)
    expect(datasets.map((p) => p.map((d: any) => d.name))).toEqual([['d2', 'd1'], ['d0']])
  })
})
