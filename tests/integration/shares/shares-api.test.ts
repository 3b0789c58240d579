/**
 * Shares (PROTOCOL.md §6) over a real server: a snapshot of the current branch that never
 * shows later messages, other branches, or anyone's identity; listing and revoking (at once);
 * the public JSON and the `/s/:id` page without login, 404 for unknown or revoked ids.
 */
import { test, expect, describe, setDefaultTimeout } from 'bun:test'
import type { TestServer } from '../../support/server'
import type { TestUser } from '../../support/users'
import { expectError, expectJson } from '../../support/http'
import { asUser } from '../../support/db'
import { useTestServer } from '../../support/fixtures'

setDefaultTimeout(30_000)

const {
  server,
  users: [owner, stranger],
  as,
} = useTestServer({ users: ['sharer', 'stranger'] })

const add = (user: TestUser, input: Parameters<TestServer['services']['repos']['messages']['add']>[0]) =>
  asUser(user, () => server.services.repos.messages.add(input))

/** q1 → a1 → (q2 "secret branch" → a2 | q2b → a2b); current branch: the second. */
async function sharedThread(user: TestUser) {
  const thread = (await expectJson(await as(user)('/api/threads', { body: { title: 'Holiday plans' } }), 201)).thread
  const q1 = await add(user, { threadId: thread.id, role: 'user', content: 'Where should we go?' })
  const a1 = await add(user, {
    threadId: thread.id,
    role: 'assistant',
    content: 'How about **Lisbon**?',
    agent: 'planner',
  })
  await add(user, { threadId: thread.id, role: 'user', content: 'secret branch question' })
  await add(user, { threadId: thread.id, role: 'assistant', content: 'secret branch answer' })
  await add(user, { threadId: thread.id, role: 'user', content: 'And in winter?', parentId: a1.id })
  await add(user, { threadId: thread.id, role: 'assistant', content: 'Then the Canaries.' })
  return { thread, q1 }
}

describe('shares', () => {
  test("a snapshot of the current branch, public without login, with nobody's identity", async () => {
    const { thread } = await sharedThread(owner)
    const { share } = await expectJson(await as(owner)(`/api/threads/${thread.id}/share`, { method: 'POST' }), 201)
    expect(Object.keys(share).sort()).toEqual(['createdAt', 'id', 'threadId', 'url'])
    expect(share.threadId).toBe(thread.id)
    expect(share.id).toMatch(/^[A-Za-z0-9_-]{22,}$/) // ≥ 128 random bits, base64url
    expect(Buffer.from(share.id, 'base64url').length).toBeGreaterThanOrEqual(16)
    expect(share.url).toBe(`${server.url}/s/${share.id}`)

    // Messages added after the share never reach it.
    await add(owner, { threadId: thread.id, role: 'user', content: 'a later message' })

    const res = await server.api(`/api/shares/${share.id}/public`)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const pub = await expectJson(res)
    expect(pub).toEqual({
      title: 'Holiday plans',
      createdAt: share.createdAt,
      messages: [
        { role: 'user', content: 'Where should we go?', createdAt: expect.any(String) },
        { role: 'assistant', content: 'How about **Lisbon**?', agent: 'planner', createdAt: expect.any(String) },
        { role: 'user', content: 'And in winter?', createdAt: expect.any(String) },
        { role: 'assistant', content: 'Then the Canaries.', createdAt: expect.any(String) },
      ],
    })
    const text = JSON.stringify(pub)
    for (const secret of ['secret branch', 'a later message', owner.id, owner.email, 'sharer', thread.id])
      expect(text).not.toContain(secret)

    const page = await fetch(share.url)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toContain('text/html')
    const html = await page.text()
    expect(html).toContain('<script type="module"')
    for (const secret of [owner.email, owner.id]) expect(html).not.toContain(secret)
  })

  test('listing is per user; revoking is immediate and only by the owner', async () => {
    const { thread } = await sharedThread(owner)
    const { share } = await expectJson(await as(owner)(`/api/threads/${thread.id}/share`, { method: 'POST' }), 201)
    const mine = await expectJson(await as(owner)('/api/shares'))
    expect(mine.shares).toContainEqual(share)
    expect(mine.nextCursor).toBeNull()
    expect((await expectJson(await as(stranger)('/api/shares'))).shares).toEqual([])

    await expectError(await as(stranger)(`/api/shares/${share.id}`, { method: 'DELETE' }), 404, 'not_found')
    await expectError(await as(stranger)(`/api/threads/${thread.id}/share`, { method: 'POST' }), 404, 'not_found')
    expect((await server.api(`/api/shares/${share.id}/public`)).status).toBe(200)

    expect((await as(owner)(`/api/shares/${share.id}`, { method: 'DELETE' })).status).toBe(204)
    await expectError(await server.api(`/api/shares/${share.id}/public`), 404, 'not_found')
    expect((await fetch(share.url)).status).toBe(404)
    expect((await expectJson(await as(owner)('/api/shares'))).shares.map((s: any) => s.id)).not.toContain(share.id)
    await expectError(await as(owner)(`/api/shares/${share.id}`, { method: 'DELETE' }), 404, 'not_found')
  })

  test('unknown ids are 404 on the API and the page; deleting the thread revokes its shares', async () => {
    await expectError(
      await server.api(`/api/shares/${Buffer.alloc(18).toString('base64url')}/public`),
      404,
      'not_found',
    )
    const page = await fetch(`${server.url}/s/nope`)
    expect(page.status).toBe(404)
    expect(await page.text()).toContain('not available')
    expect((await fetch(`${server.url}/s/${'x'.repeat(300)}`)).status).toBe(404)

    const { thread } = await sharedThread(owner)
    const { share } = await expectJson(await as(owner)(`/api/threads/${thread.id}/share`, { method: 'POST' }), 201)
    expect((await as(owner)(`/api/threads/${thread.id}`, { method: 'DELETE' })).status).toBe(204)
    await expectError(await server.api(`/api/shares/${share.id}/public`), 404)
  })

  test('the audit log names the shared thread, never the share id (the link an admin could open)', async () => {
    // The owner here is the first account, so an admin: it reads the audit log of its own actions.
    const { thread } = await sharedThread(owner)
    const { share } = await expectJson(await as(owner)(`/api/threads/${thread.id}/share`, { method: 'POST' }), 201)
    expect((await as(owner)(`/api/shares/${share.id}`, { method: 'DELETE' })).status).toBe(204)
    for (const action of ['share_created', 'share_revoked']) {
      const audit = await expectJson(await as(owner)(`/api/admin/audit?action=${action}&actorId=${owner.id}`))
      expect(audit.events[0]).toMatchObject({ action, actorId: owner.id, targetId: thread.id })
      expect(JSON.stringify(audit)).not.toContain(share.id)
    }
  })

  test('managing shares needs a login; the public read does not', async () => {
    const { thread } = await sharedThread(owner)
    await expectError(await server.api(`/api/threads/${thread.id}/share`, { method: 'POST' }), 401)
    await expectError(await server.api('/api/shares'), 401)
    await expectError(await server.api('/api/shares/x', { method: 'DELETE' }), 401)
  })
})
