/**
 * Each user's own data (PROTOCOL.md §5): the export holds everything the user owns and nothing
 * of anyone else's, a password change ends the other sessions, and deleting the account leaves
 * no row of the user in any table while another user's rows stay exactly as they were.
 */
import { test, expect, describe, beforeAll, afterAll, setDefaultTimeout } from 'bun:test'
import { startChatStack, type ChatStack } from '../../support/chat-stack'
import { expectError, expectJson } from '../../support/http'
import { SALES_CSV, SALES_ROW_COUNT, OTHER_SALES_CSV } from '../../support/data'
import { login, refresh, rowsPerTable } from '../../support/teams'
import type { TestUser } from '../../support/users'
import type { WsClient } from '../../support/ws-client'
import { forgeAccessToken } from '../../support/tokens'

setDefaultTimeout(60_000)

let stack: ChatStack
let admin: TestUser
let alice: { user: TestUser; ws: WsClient }
let bob: { user: TestUser; ws: WsClient }
let aliceThread: string
const secret = `alice-secret-${crypto.randomUUID()}`
const bobSecret = `bob-secret-${crypto.randomUUID()}`

async function fill(owner: { user: TestUser; ws: WsClient }, marker: string, csv: string) {
  const api = (path: string, body?: unknown) => stack.server.api(path, { token: owner.user.accessToken, body })
  await expectJson(await api('/api/notes', { title: `note ${marker}`, body: `body ${marker}` }), 201)
  await expectJson(await api('/api/datasets', { name: `sales-${marker.slice(-6)}`, csv }), 201)
  const { runId, threadId } = await owner.ws.chat(`hello ${marker}`)
  await owner.ws.completion(runId)
  const second = await owner.ws.chat(`again ${marker}`, { threadId })
  await owner.ws.completion(second.runId)
  return threadId
}

beforeAll(async () => {
  stack = await startChatStack()
  admin = (await stack.userWithSocket('admin')).user
  alice = await stack.userWithSocket('alice')
  bob = await stack.userWithSocket('bob')
  aliceThread = await fill(alice, secret, SALES_CSV)
  await fill(bob, bobSecret, OTHER_SALES_CSV)
})
afterAll(async () => {
  await stack?.close()
})

describe('GET /api/me/export', () => {
  test('one JSON download with the profile, every thread and message, notes, datasets with rows and usage', async () => {
    const res = await stack.server.api('/api/me/export', { token: alice.user.accessToken })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="[^"]+\.json"$/)
    expect(res.headers.get('content-type')).toContain('application/json')
    expect(res.headers.get('cache-control')).toBe('no-store')
    const text = await res.text()
    const doc = JSON.parse(text)
    expect(doc.profile).toEqual({
      id: alice.user.id,
      email: alice.user.email,
      name: 'alice',
      role: 'member',
      createdAt: expect.any(String),
    })
    expect(doc.threads).toHaveLength(1)
    // Each thread as its own export writes it (so the document imports back).
    const threadDoc = await expectJson(
      await stack.server.api(`/api/threads/${aliceThread}/export`, { token: alice.user.accessToken }),
    )
    expect(doc.threads[0]).toEqual({ ...threadDoc, exportedAt: expect.any(String) })
    expect(doc.threads[0]).toMatchObject({ format: 'local-chat-thread', thread: { id: aliceThread } })
    const contents = doc.threads[0].messages.map((m: any) => [m.role, m.content])
    expect(contents).toEqual([
      ['user', `hello ${secret}`],
      ['assistant', `echo: hello ${secret}`],
      ['user', `again ${secret}`],
      ['assistant', `echo: again ${secret}`],
    ])
    expect(doc.notes).toEqual([expect.objectContaining({ title: `note ${secret}`, body: `body ${secret}` })])
    expect(doc.datasets).toHaveLength(1)
    expect(doc.datasets[0].rows).toHaveLength(SALES_ROW_COUNT)
    expect(doc.datasets[0].rows[0]).toMatchObject({ region: 'North', amount: 1200.5 })
    expect(doc.usage).toEqual([expect.objectContaining({ runs: 2 })])
    expect(doc.runs).toHaveLength(2)
    for (const key of ['documents', 'shares', 'apiKeys']) expect(Array.isArray(doc[key])).toBe(true)
    // Nothing of bob's, no secrets.
    expect(text).not.toContain(bobSecret)
    expect(text).not.toContain(bob.user.id)
    expect(text).not.toMatch(/password|hash|user_?Id/i)
  })

  test("the export holds the caller's live shares with their snapshots and links, and API keys without secrets", async () => {
    const token = alice.user.accessToken
    const [thread] = (await expectJson(await stack.server.api('/api/threads', { token }))).threads
    const { share } = await expectJson(
      await stack.server.api(`/api/threads/${thread.id}/share`, { token, body: {} }),
      201,
    )
    const { secret: keySecret } = await expectJson(
      await stack.server.api('/api/keys', { token, body: { name: 'cli' } }),
      201,
    )
    const [bobThread] = (await expectJson(await stack.server.api('/api/threads', { token: bob.user.accessToken })))
      .threads
    const bobShare = await expectJson(
      await stack.server.api(`/api/threads/${bobThread.id}/share`, { token: bob.user.accessToken, body: {} }),
      201,
    )
    const res = await stack.server.api('/api/me/export', { token })
    const text = await res.text()
    const doc = JSON.parse(text)
    const snapshot = await expectJson(await stack.server.api(`/api/shares/${share.id}/public`))
    expect(doc.shares).toEqual([{ ...share, title: snapshot.title, messages: snapshot.messages }])
    expect(doc.shares[0].messages.map((m: any) => m.content)).toContain(`echo: hello ${secret}`)
    expect(doc.apiKeys).toEqual([expect.objectContaining({ name: 'cli', prefix: keySecret.slice(0, 12) })])
    expect(text).not.toContain(keySecret)
    expect(text).not.toContain(bobShare.share.id)
    // Revoked, it leaves the export.
    expect((await stack.server.api(`/api/shares/${share.id}`, { token, method: 'DELETE' })).status).toBe(204)
    expect((await expectJson(await stack.server.api('/api/me/export', { token }))).shares).toEqual([])
  })

  test('the export is audited as data_exported, without any of its content', async () => {
    const audit = await expectJson(
      await stack.server.api(`/api/admin/audit?actorId=${alice.user.id}&action=data_exported`, {
        token: admin.accessToken,
      }),
    )
    expect(audit.events.length).toBeGreaterThanOrEqual(1)
    expect(audit.events[0]).toMatchObject({ actorId: alice.user.id, action: 'data_exported', targetId: alice.user.id })
    expect(JSON.stringify(audit)).not.toContain(secret)
  })
})

describe('POST /api/me/password', () => {
  test('a wrong current password or a bad new one changes nothing', async () => {
    const { user } = await stack.userWithSocket('pw-bad')
    await expectError(
      await stack.server.api('/api/me/password', {
        token: user.accessToken,
        body: { currentPassword: 'wrong password', newPassword: 'a whole new password' },
      }),
      403,
      'invalid_credentials',
    )
    await expectError(
      await stack.server.api('/api/me/password', {
        token: user.accessToken,
        body: { currentPassword: user.password, newPassword: 'short' },
      }),
      400,
      'weak_password',
    )
    await expectError(
      await stack.server.api('/api/me/password', {
        token: user.accessToken,
        body: { newPassword: 'a whole new password' },
      }),
      400,
      'invalid_input',
    )
    await expectJson(await login(stack.server, user))
    await expectJson(await refresh(stack.server, user.refreshToken))
  })

  test('the new password works, the old one not, and the other sessions end (the one named stays)', async () => {
    const { user } = await stack.userWithSocket('pw-ok')
    const other = await expectJson(await login(stack.server, user))
    const kept = await expectJson(await login(stack.server, user))
    const newPassword = `new-${crypto.randomUUID()}`
    const res = await stack.server.api('/api/me/password', {
      token: user.accessToken,
      body: { currentPassword: user.password, newPassword, refreshToken: kept.refreshToken },
    })
    expect(res.status).toBe(204)
    await expectError(await login(stack.server, user), 401, 'invalid_credentials')
    await expectJson(await login(stack.server, { email: user.email, password: newPassword }))
    await expectError(await refresh(stack.server, user.refreshToken), 401)
    await expectError(await refresh(stack.server, other.refreshToken), 401)
    await expectJson(await refresh(stack.server, kept.refreshToken))
  })
})

describe('DELETE /api/me', () => {
  test('a wrong or missing password deletes nothing', async () => {
    const before = await rowsPerTable(stack.server.services.database.client, alice.user.id)
    await expectError(
      await stack.server.api('/api/me', {
        method: 'DELETE',
        token: alice.user.accessToken,
        body: { password: 'not my password' },
      }),
      403,
      'invalid_credentials',
    )
    await expectError(
      await stack.server.api('/api/me', { method: 'DELETE', token: alice.user.accessToken, body: {} }),
      403,
      'invalid_credentials',
    )
    expect(await rowsPerTable(stack.server.services.database.client, alice.user.id)).toEqual(before)
  })

  test('leaves no row of the user in any table, and every row of another user untouched', async () => {
    const client = stack.server.services.database.client
    const aliceBefore = await rowsPerTable(client, alice.user.id)
    const bobBefore = await rowsPerTable(client, bob.user.id)
    // The fixture really put rows in the tables that matter.
    for (const table of [
      'users',
      'threads',
      'messages',
      'runs',
      'run_events',
      'notes',
      'datasets',
      'dataset_rows',
      'usage_daily',
      'usage_events',
      'refresh_token_families',
    ]) {
      expect({ table, n: aliceBefore[table] }).toEqual({ table, n: expect.any(Number) })
      expect(aliceBefore[table]).toBeGreaterThan(0)
    }

    const res = await stack.server.api('/api/me', {
      method: 'DELETE',
      token: alice.user.accessToken,
      body: { password: alice.user.password },
    })
    expect(res.status).toBe(204)

    const aliceAfter = await rowsPerTable(client, alice.user.id)
    expect(Object.values(aliceAfter).every((n) => n === 0)).toBe(true)
    expect(Object.keys(aliceAfter).sort()).toEqual(Object.keys(aliceBefore).sort())
    expect(await rowsPerTable(client, bob.user.id)).toEqual(bobBefore)
    // Full-text indexes forget the texts too.
    const fts = await client.execute({
      sql: 'SELECT count(*) AS n FROM messages_fts WHERE messages_fts MATCH ?',
      args: [`"${secret}"`],
    })
    expect(Number(fts.rows[0].n)).toBe(0)
    const notesFts = await client.execute({
      sql: 'SELECT count(*) AS n FROM notes_fts WHERE notes_fts MATCH ?',
      args: [`"${secret}"`],
    })
    expect(Number(notesFts.rows[0].n)).toBe(0)

    // The account is gone: sign-in, refresh and its token fail; bob's data still answers.
    await expectError(await login(stack.server, alice.user), 401, 'invalid_credentials')
    await expectError(await refresh(stack.server, alice.user.refreshToken), 401)
    await expectError(await stack.server.api('/api/me', { token: alice.user.accessToken }), 401, 'session_revoked')
    expect(
      (await expectJson(await stack.server.api('/api/notes', { token: bob.user.accessToken }))).notes,
    ).toHaveLength(1)

    // The audit log keeps the event, with the id as an opaque reference and no content.
    const audit = await expectJson(
      await stack.server.api(`/api/admin/audit?action=account_deleted`, { token: admin.accessToken }),
    )
    expect(audit.events[0]).toMatchObject({
      actorId: alice.user.id,
      targetId: alice.user.id,
      action: 'account_deleted',
    })
    expect(
      (await expectJson(await stack.server.api('/api/admin/users?limit=200', { token: admin.accessToken }))).users.map(
        (u: any) => u.id,
      ),
    ).not.toContain(alice.user.id)
  })

  test('the last active admin cannot delete the account while others exist (409 last_admin)', async () => {
    await expectError(
      await stack.server.api('/api/me', {
        method: 'DELETE',
        token: admin.accessToken,
        body: { password: admin.password },
      }),
      409,
      'last_admin',
    )
    expect((await expectJson(await login(stack.server, admin))).user.role).toBe('admin')
  })

  test('an account without a password (single sign-on) deletes with a token issued in the last 5 minutes', async () => {
    const { server } = stack
    const created = await server.services.repos.users.create(
      { email: `sso-${crypto.randomUUID()}@example.test`, name: 'SSO' },
      true,
    )
    if (typeof created === 'string') throw new Error(created)
    const ttl = server.config.accessTokenTtl
    const now = Math.floor(Date.now() / 1000)
    const stale = await forgeAccessToken(server.config, { sub: created.id, iat: now - 600, exp: now - 600 + ttl })
    await expectError(await server.api('/api/me', { method: 'DELETE', token: stale }), 403, 'reauthentication_required')
    expect((await rowsPerTable(server.services.database.client, created.id)).users).toBe(1)
    const fresh = (await server.services.access.sign({ id: created.id, role: 'member' })).token
    expect((await server.api('/api/me', { method: 'DELETE', token: fresh })).status).toBe(204)
    expect((await rowsPerTable(server.services.database.client, created.id)).users).toBe(0)
  })
})
