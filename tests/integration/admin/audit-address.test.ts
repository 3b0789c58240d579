/**
 * The audit event's `ip` is the client's address (PROTOCOL.md §5, §10): behind a proxy listed in
 * TRUSTED_PROXIES, the last untrusted hop of X-Forwarded-For — for the admin's and the account's
 * own actions as for sign-ins. Here the test client is the trusted proxy, so the header says
 * where each "client" is.
 */
import { expect, setDefaultTimeout, test } from 'bun:test'
import { expectJson } from '../../support/http'
import { useTestServer } from '../../support/fixtures'

setDefaultTimeout(30_000)

const {
  server,
  users: [admin, member],
} = useTestServer({ env: { TRUSTED_PROXIES: '127.0.0.1' }, users: ['audit-admin', 'audit-member'] })

test('admin and account actions record the forwarded client address, like a login does', async () => {
  const from = (address: string) => ({ 'x-forwarded-for': address })
  const adminToken = admin.accessToken
  const login = await expectJson(
    await server.api('/api/auth/login', {
      body: { email: member.email, password: member.password },
      headers: from('203.0.113.1'),
    }),
  )
  const created = await expectJson(
    await server.api('/api/admin/users', {
      token: adminToken,
      body: { email: `made-${crypto.randomUUID()}@example.test`, password: `pw-${crypto.randomUUID()}` },
      headers: from('203.0.113.2'),
    }),
    201,
  )
  await expectJson(
    await server.api(`/api/admin/users/${created.user.id}`, {
      method: 'PATCH',
      token: adminToken,
      body: { role: 'admin' },
      headers: from('203.0.113.3'),
    }),
  )
  const signOut = await server.api(`/api/admin/users/${created.user.id}/sign-out`, {
    method: 'POST',
    token: adminToken,
    headers: from('203.0.113.4'),
  })
  expect(signOut.status).toBe(204)
  await expectJson(await server.api('/api/me/export', { token: login.accessToken, headers: from('203.0.113.5') }))
  const newPassword = `new-${crypto.randomUUID()}`
  const changed = await server.api('/api/me/password', {
    token: login.accessToken,
    body: { currentPassword: member.password, newPassword },
    headers: from('203.0.113.6'),
  })
  expect(changed.status).toBe(204)
  const deleted = await server.api('/api/me', {
    method: 'DELETE',
    token: login.accessToken,
    body: { password: newPassword },
    headers: from('203.0.113.7'),
  })
  expect(deleted.status).toBe(204)

  const { events } = await expectJson(await server.api('/api/admin/audit?limit=200', { token: adminToken }))
  const addressOf = (action: string) => events.find((e: { action: string }) => e.action === action)?.ip
  expect(
    Object.fromEntries(
      [
        'login',
        'user_created',
        'user_updated',
        'user_signed_out',
        'data_exported',
        'password_changed',
        'account_deleted',
      ].map((action) => [action, addressOf(action)]),
    ),
  ).toEqual({
    login: '203.0.113.1',
    user_created: '203.0.113.2',
    user_updated: '203.0.113.3',
    user_signed_out: '203.0.113.4',
    data_exported: '203.0.113.5',
    password_changed: '203.0.113.6',
    account_deleted: '203.0.113.7',
  })
})
