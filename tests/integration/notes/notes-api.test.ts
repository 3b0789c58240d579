/**
 * /api/notes over real HTTP (PROTOCOL.md §2): create, list newest first, delete, validation,
 * auth, and isolation between users (another user's note is 404, never listed).
 */
import { describe, expect, test } from 'bun:test'
import type { TestUser } from '../../support/users'
import { expectError, expectJson, expectUnauthorized } from '../../support/http'
import { useTestServer } from '../../support/fixtures'

const {
  server,
  users: [alice, bob],
  as,
} = useTestServer({ users: ['notes-alice', 'notes-bob'] })

const createNote = async (user: TestUser, title: string, body: string) =>
  (await expectJson(await as(user)('/api/notes', { body: { title, body } }), 201)).note

describe('notes CRUD', () => {
  test('create, list newest first, delete', async () => {
    const first = await createNote(alice, '  Groceries  ', ' milk, eggs ')
    expect(Object.keys(first).sort()).toEqual(['body', 'createdAt', 'id', 'title'])
    expect(first).toMatchObject({ title: 'Groceries', body: 'milk, eggs' })
    expect(new Date(first.createdAt).toISOString()).toBe(first.createdAt)
    await Bun.sleep(2)
    const second = await createNote(alice, 'Books', 'Dune')

    const listed = (await expectJson(await as(alice)('/api/notes'))).notes
    expect(listed.map((n: any) => n.id)).toEqual([second.id, first.id])
    expect(listed[1]).toEqual(first)

    const deleted = await as(alice)(`/api/notes/${first.id}`, { method: 'DELETE' })
    expect(deleted.status).toBe(204)
    expect(await deleted.text()).toBe('')
    expect((await expectJson(await as(alice)('/api/notes'))).notes.map((n: any) => n.id)).toEqual([second.id])
    await expectError(await as(alice)(`/api/notes/${first.id}`, { method: 'DELETE' }), 404, 'not_found')
  })

  test('an empty body is allowed; a missing or blank title is 400', async () => {
    expect((await createNote(alice, 'Just a title', '')).body).toBe('')
    await expectError(await as(alice)('/api/notes', { body: { body: 'no title' } }), 400, 'invalid_input')
    await expectError(await as(alice)('/api/notes', { body: { title: '', body: 'x' } }), 400, 'invalid_input')
    const blank = await expectError(
      await as(alice)('/api/notes', { body: { title: '   ', body: 'x' } }),
      400,
      'invalid_input',
    )
    expect(blank.error.message).toContain('title')
    await expectError(
      await as(alice)('/api/notes', { body: { title: 'x'.repeat(201), body: 'x' } }),
      400,
      'invalid_input',
    )
    await expectError(
      await as(alice)('/api/notes', { body: { title: 'x', body: 'y'.repeat(20_001) } }),
      400,
      'invalid_input',
    )
    await expectError(await as(alice)('/api/notes', { body: '{"title":' }), 400, 'invalid_json')
  })

  test('every route needs a token', async () => {
    await expectUnauthorized(server, [
      '/api/notes',
      ['/api/notes', { body: { title: 'a', body: 'b' } }],
      ['/api/notes/whatever', { method: 'DELETE' }],
      ['/api/notes', { token: 'not-a-token' }],
    ])
  })
})

describe('isolation', () => {
  test("another user's note is invisible and 404 to delete, and stays intact", async () => {
    const secret = await createNote(alice, 'Alice secret', 'the launch code is 1234')
    const bobsNotes = (await expectJson(await as(bob)('/api/notes'))).notes
    expect(bobsNotes.map((n: any) => n.id)).not.toContain(secret.id)
    expect(JSON.stringify(bobsNotes)).not.toContain('launch code')

    const denied = await expectError(await as(bob)(`/api/notes/${secret.id}`, { method: 'DELETE' }), 404, 'not_found')
    expect(JSON.stringify(denied)).not.toContain('launch code')
    expect((await expectJson(await as(alice)('/api/notes'))).notes.map((n: any) => n.id)).toContain(secret.id)
  })

  test('the same titles for two users stay separate', async () => {
    const a = await createNote(alice, 'Shared title', 'alice body')
    const b = await createNote(bob, 'Shared title', 'bob body')
    const alices = (await expectJson(await as(alice)('/api/notes'))).notes
    const bobs = (await expectJson(await as(bob)('/api/notes'))).notes
    expect(alices.find((n: any) => n.title === 'Shared title')).toEqual(a)
    expect(bobs.filter((n: any) => n.title === 'Shared title')).toEqual([b])
    expect(JSON.stringify(bobs)).not.toContain('alice body')
  })
})
