/**
 * Admins manage accounts, never content (PROTOCOL.md §5). A user fills every kind of content
 * (messages, notes, datasets); then every admin route is walked, every page of every list, and
 * none of those texts appear. The audit log records the §5 actions with actor, target and
 * address, pages newest first, filters by actor and action — and its table holds none of the
 * passwords, tokens or texts used here.
 */
import { test, expect, describe, beforeAll, afterAll, setDefaultTimeout } from 'bun:test'
import { startChatStack, type ChatStack } from '../../support/chat-stack'
import { expectError, expectJson } from '../../support/http'
import { allPages, login, refresh } from '../../support/teams'
import type { TestUser } from '../../support/users'
import type { WsClient } from '../../support/ws-client'

setDefaultTimeout(60_000)

let stack: ChatStack
let admin: { user: TestUser; ws: WsClient }
let victim: { user: TestUser; ws: WsClient }
const texts = {
  message: `message-text-${crypto.randomUUID()}`,
  noteTitle: `note-title-${crypto.randomUUID()}`,
  noteBody: `note-body-${crypto.randomUUID()}`,
  dataset: `dataset-${crypto.randomUUID().slice(0, 8)}`,
  cell: `cell-${crypto.randomUUID()}`,
  threadTitle: `thread-title-${crypto.randomUUID()}`,
}
/** Every secret this file hands the server: none may reach the audit table. */
const secrets: string[] = []

beforeAll(async () => {
  stack = await startChatStack()
  admin = await stack.userWithSocket('admin')
  victim = await stack.userWithSocket('victim')
  secrets.push(
    admin.user.password,
    admin.user.accessToken,
    admin.user.refreshToken,
    victim.user.password,
    victim.user.accessToken,
    victim.user.refreshToken,
  )
  const token = victim.user.accessToken
  await expectJson(
    await stack.server.api('/api/notes', { token, body: { title: texts.noteTitle, body: texts.noteBody } }),
    201,
  )
  await expectJson(
    await stack.server.api('/api/datasets', {
      token,
      body: { name: texts.dataset, csv: `label,amount\n${texts.cell},5\n` },
    }),
    201,
  )
  const thread = await expectJson(
    await stack.server.api('/api/threads', { token, body: { title: texts.threadTitle } }),
    201,
  )
  const { runId } = await victim.ws.chat(texts.message, { threadId: thread.thread.id })
  await victim.ws.completion(runId)
})
afterAll(async () => {
  await stack?.close()
})

const adminToken = () => admin.user.accessToken

describe('audit log', () => {
  test('records the account actions with actor, target and address, and none of the secrets', async () => {
    const api = stack.server.api
    // login, login_failed, refresh_reused, logout
    const session = await expectJson(await login(stack.server, victim.user))
    secrets.push(session.accessToken, session.refreshToken)
    await expectError(
      await login(stack.server, { email: victim.user.email, password: 'wrong-password-typed-here' }),
      401,
    )
    secrets.push('wrong-password-typed-here')
    const rotated = await expectJson(await refresh(stack.server, session.refreshToken))
    secrets.push(rotated.accessToken, rotated.refreshToken)
    await expectError(await refresh(stack.server, session.refreshToken), 401, 'refresh_token_reused')
    const another = await expectJson(await login(stack.server, victim.user))
    secrets.push(another.refreshToken, another.accessToken)
    expect((await api('/api/auth/logout', { body: { refreshToken: another.refreshToken } })).status).toBe(204)
    // user_created, user_updated, user_signed_out
    const newPassword = `created-${crypto.randomUUID()}`
    secrets.push(newPassword)
    const created = await expectJson(
      await api('/api/admin/users', {
        token: adminToken(),
        body: { email: `new-${crypto.randomUUID()}@example.test`, password: newPassword, name: 'Newbie' },
      }),
      201,
    )
    await expectJson(
      await api(`/api/admin/users/${created.user.id}`, {
        method: 'PATCH',
        token: adminToken(),
        body: { role: 'admin', quota: { tokensPerDay: 1000 } },
      }),
    )
    expect(
      (await api(`/api/admin/users/${created.user.id}/sign-out`, { method: 'POST', token: adminToken() })).status,
    ).toBe(204)
    // data_exported
    expect((await api('/api/me/export', { token: victim.user.accessToken })).status).toBe(200)

    const events = await allPages<any>(stack.server, '/api/admin/audit', adminToken(), 'events', 3)
    const find = (action: string) => events.find((e) => e.action === action)
    expect(find('login')).toMatchObject({ actorId: victim.user.id, targetId: victim.user.id, ip: '127.0.0.1' })
    expect(find('login_failed')).toMatchObject({ targetId: victim.user.id, ip: '127.0.0.1' })
    expect(find('refresh_reused')).toMatchObject({ actorId: victim.user.id, targetId: victim.user.id })
    expect(find('logout')).toMatchObject({ actorId: victim.user.id })
    expect(find('user_created')).toMatchObject({
      actorId: admin.user.id,
      targetId: created.user.id,
      detail: { role: 'member' },
    })
    expect(find('user_updated')).toMatchObject({
      actorId: admin.user.id,
      targetId: created.user.id,
      detail: { role: 'admin', tokensPerDay: 1000, runsPerDay: null },
    })
    expect(find('user_signed_out')).toMatchObject({ actorId: admin.user.id, targetId: created.user.id })
    expect(find('data_exported')).toMatchObject({ actorId: victim.user.id })
    for (const e of events)
      expect(
        Object.keys(e).every((k) => ['id', 'at', 'actorId', 'action', 'targetId', 'ip', 'detail'].includes(k)),
      ).toBe(true)

    // Newest first, each once.
    const times = events.map((e) => Date.parse(e.at))
    expect([...times].sort((a, b) => b - a)).toEqual(times)
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length)

    // The raw table: no password, token, or any content text, in any column.
    const rows = await stack.server.services.database.client.execute('SELECT * FROM audit_events')
    const dump = JSON.stringify(rows.rows)
    expect(rows.rows.length).toBe(events.length)
    for (const s of [...secrets, ...Object.values(texts)])
      expect({ leaked: dump.includes(s), s }).toEqual({ leaked: false, s })
  })

  test('filters by actor and by action; bad filters are 400', async () => {
    const byActor = await allPages<any>(
      stack.server,
      `/api/admin/audit?actorId=${admin.user.id}`,
      adminToken(),
      'events',
      2,
    )
    expect(byActor.length).toBeGreaterThanOrEqual(3)
    expect(byActor.every((e) => e.actorId === admin.user.id)).toBe(true)
    const byAction = await expectJson(await stack.server.api('/api/admin/audit?action=login', { token: adminToken() }))
    expect(byAction.events.length).toBeGreaterThan(0)
    expect(byAction.events.every((e: any) => e.action === 'login')).toBe(true)
    const both = await expectJson(
      await stack.server.api(`/api/admin/audit?action=login&actorId=${victim.user.id}`, { token: adminToken() }),
    )
    expect(both.events.every((e: any) => e.action === 'login' && e.actorId === victim.user.id)).toBe(true)
    await expectError(await stack.server.api('/api/admin/audit?action=DROP%20TABLE', { token: adminToken() }), 400)
    await expectError(await stack.server.api('/api/admin/audit?limit=500', { token: adminToken() }), 400)
  })
})

describe('no admin route shows content', () => {
  test('every admin list, every page, and every admin answer is free of the user’s texts', async () => {
    const token = adminToken()
    // Read before the disable below, which ends the victim's sessions for good.
    const threads = await expectJson(await stack.server.api('/api/threads', { token: victim.user.accessToken }))
    const bodies: string[] = []
    for (const [path, key] of [
      ['/api/admin/users', 'users'],
      ['/api/admin/usage', 'usage'],
      ['/api/admin/audit', 'events'],
      [`/api/admin/usage?userId=${victim.user.id}`, 'usage'],
      [`/api/admin/audit?actorId=${victim.user.id}`, 'events'],
    ] as const) {
      bodies.push(JSON.stringify(await allPages(stack.server, path, token, key, 1)))
    }
    const status = await stack.server.api('/api/admin/status', { token })
    expect(status.status).toBe(200)
    bodies.push(await status.text())
    for (const body of [{ quota: { runsPerDay: 100 } }, { disabled: true }, { disabled: false }]) {
      const res = await stack.server.api(`/api/admin/users/${victim.user.id}`, { method: 'PATCH', token, body })
      bodies.push(await res.text())
    }
    // The victim's usage is visible (counts), their words are not.
    expect(bodies.join('\n')).toContain(victim.user.id)
    for (const text of Object.values(texts))
      expect({ found: bodies.some((b) => b.includes(text)), text }).toEqual({ found: false, text })
    // And the admin cannot reach the content through the user routes either: it's a 404.
    const foreign = await stack.server.api(`/api/threads/${threads.threads[0].id}/messages`, { token })
    expect(foreign.status).toBe(404)
  })
})
