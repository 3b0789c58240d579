/**
 * The account actions of PROTOCOL.md §5 end sessions at once, through the real routes: an
 * admin's disable and sign-out, a role change, and the user's own account deletion. The
 * affected access tokens are 401 on the very next request (no waiting for them to expire), and
 * the user's open WebSockets close with 4401. Runs already started finish (they are the
 * server's, not the session's).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { startTestServer, type TestServer } from '../../support/server'
import { registerUser, type TestUser } from '../../support/users'
import { expectError, expectJson } from '../../support/http'
import { WsClient } from '../../support/ws-client'

setDefaultTimeout(60_000)

let server: TestServer
let admin: TestUser

beforeAll(async () => {
  server = await startTestServer()
  admin = await registerUser(server, 'admin') // the first account is the admin
})
afterAll(() => server?.close())

const patchUser = (id: string, body: unknown) =>
  server.api(`/api/admin/users/${id}`, { method: 'PATCH', body, token: admin.accessToken })

async function expectEnded(token: string, code: string) {
  await expectError(await server.api('/api/me', { token }), 401, code)
  await expectError(await server.api('/api/threads', { token, body: { title: 'after the end' } }), 401, code)
}

async function expectClosed4401(ws: WsClient) {
  const closed = await ws.closed
  expect(closed.code).toBe(4401)
}

describe('admin actions end sessions at once', () => {
  test('disable: every token of the user is 401 account_disabled and its sockets close 4401; enabling does not revive them', async () => {
    const user = await registerUser(server, 'to-disable')
    const ws = await WsClient.connect(server.wsUrl, user.accessToken)
    expect((await expectJson(await server.api('/api/me', { token: user.accessToken }))).user.id).toBe(user.id)

    await expectJson(await patchUser(user.id, { disabled: true }))
    await expectEnded(user.accessToken, 'account_disabled')
    await expectClosed4401(ws)
    await expectError(await server.api('/api/auth/refresh', { body: { refreshToken: user.refreshToken } }), 401)

    await expectJson(await patchUser(user.id, { disabled: false }))
    await expectError(await server.api('/api/me', { token: user.accessToken }), 401)
    const again = await expectJson(
      await server.api('/api/auth/login', { body: { email: user.email, password: user.password } }),
    )
    expect((await expectJson(await server.api('/api/me', { token: again.accessToken }))).user.id).toBe(user.id)
  })

  test('sign-out everywhere: 401 session_revoked on every route and 4401 on the socket; the user can sign in again', async () => {
    const user = await registerUser(server, 'to-sign-out')
    const ws = await WsClient.connect(server.wsUrl, user.accessToken)
    const res = await server.api(`/api/admin/users/${user.id}/sign-out`, { method: 'POST', token: admin.accessToken })
    expect(res.status).toBe(204)
    await expectEnded(user.accessToken, 'session_revoked')
    await expectClosed4401(ws)
    await expectError(await server.api('/api/auth/refresh', { body: { refreshToken: user.refreshToken } }), 401)
    await expectJson(await server.api('/api/auth/login', { body: { email: user.email, password: user.password } }))
  })

  test('a promotion takes effect on the live token at once: admin routes open without signing in again', async () => {
    const user = await registerUser(server, 'to-promote')
    await expectError(await server.api('/api/admin/users', { token: user.accessToken }), 403, 'forbidden')
    await expectJson(await patchUser(user.id, { role: 'admin' }))
    await expectJson(await server.api('/api/admin/users', { token: user.accessToken }))
    await expectJson(await patchUser(user.id, { role: 'member' }))
    await expectError(await server.api('/api/admin/users', { token: user.accessToken }), 403, 'forbidden')
  })
})

describe('deleting one’s own account', () => {
  test('the deleted user’s still validly signed token is 401 session_revoked, never a 500; its socket closes 4401', async () => {
    const user = await registerUser(server, 'to-delete')
    const ws = await WsClient.connect(server.wsUrl, user.accessToken)
    const res = await server.api('/api/me', {
      method: 'DELETE',
      token: user.accessToken,
      body: { password: user.password },
    })
    expect(res.status).toBe(204)
    await expectEnded(user.accessToken, 'session_revoked')
    await expectClosed4401(ws)
    await expectError(
      await server.api('/api/auth/login', { body: { email: user.email, password: user.password } }),
      401,
      'invalid_credentials',
    )
  })
})
