/**
 * Sessions end at once (PROTOCOL.md §5): logout, refresh-token reuse, sign-out everywhere,
 * disable and account deletion void the affected access tokens on the very next request
 * (401 session_revoked / account_disabled) and close their WebSockets with 4401 — no waiting
 * for the token to expire. The revocations survive a restart.
 */
import { test, expect, describe, beforeAll, afterAll, setDefaultTimeout } from 'bun:test'
import { startTestServer, type TestServer } from '../../support/server'
import { registerUser, type TestUser } from '../../support/users'
import { forgeAccessToken } from '../../support/tokens'
import { expectError, expectJson } from '../../support/http'
import { WsClient } from '../../support/ws-client'
import { openDatabase } from '../../../src/db/client'
import { usersRepository } from '../../../src/db/repositories/users'
import { refreshTokenStore } from '../../../src/auth/refresh-tokens'
import { sessionsService } from '../../../src/auth/sessions/service'

setDefaultTimeout(30_000) // argon2 and real servers on a loaded 2-core machine

let server: TestServer
beforeAll(async () => {
  server = await startTestServer()
  await registerUser(server, 'admin') // the first account is the admin; the tests use later ones
})
afterAll(() => server?.close())

const login = async (user: TestUser) =>
  expectJson(await server.api('/api/auth/login', { body: { email: user.email, password: user.password } }))
const refresh = (refreshToken: string) => server.api('/api/auth/refresh', { body: { refreshToken } })

/** Asserts the token is refused with `code` on more than one route. */
async function expectEnded(token: string, code: string) {
  await expectError(await server.api('/api/me', { token }), 401, code)
  await expectError(await server.api('/api/threads', { token }), 401, code)
  await expectError(await server.api('/api/threads', { token, body: { title: 'after the end' } }), 401, code)
}

async function expectLive(token: string, userId: string) {
  expect((await expectJson(await server.api('/api/me', { token }))).user.id).toBe(userId)
}

/** The socket is closed with 4401 after an error frame naming why. */
async function expectClosed(ws: WsClient, code: string) {
  const closed = await ws.closed
  expect(closed.code).toBe(4401)
  expect(ws.frames.some((f) => f.type === 'error' && f.code === code)).toBe(true)
}

describe('one sign-in ends', () => {
  test('logout: that session is 401 session_revoked at once, its socket closes 4401; another sign-in goes on', async () => {
    const user = await registerUser(server, 'logout')
    const other = await login(user)
    const ws = await WsClient.connect(server.wsUrl, user.accessToken)
    const otherWs = await WsClient.connect(server.wsUrl, other.accessToken)
    await expectLive(user.accessToken, user.id)

    expect((await server.api('/api/auth/logout', { body: { refreshToken: user.refreshToken } })).status).toBe(204)
    await expectEnded(user.accessToken, 'session_revoked')
    await expectClosed(ws, 'session_revoked')

    // The other sign-in of the same user is untouched.
    await expectLive(other.accessToken, user.id)
    otherWs.send({ type: 'ping' })
    await otherWs.waitFor((f) => f.type === 'pong')
    expect(otherWs.closeCode).toBeUndefined()
    otherWs.close()
  })

  test('a reused refresh token ends the whole family, including the access token just refreshed', async () => {
    const user = await registerUser(server, 'reuse')
    const rotated = await expectJson(await refresh(user.refreshToken))
    const ws = await WsClient.connect(server.wsUrl, rotated.accessToken)
    await expectLive(rotated.accessToken, user.id)

    await expectError(await refresh(user.refreshToken), 401, 'refresh_token_reused')
    await expectEnded(rotated.accessToken, 'session_revoked')
    await expectEnded(user.accessToken, 'session_revoked')
    await expectClosed(ws, 'session_revoked')
    await expectError(await refresh(rotated.refreshToken), 401)
  })

  test("a socket re-authenticated with an ended session's token keeps its own and is told why", async () => {
    const user = await registerUser(server, 'reauth')
    const second = await login(user)
    const ws = await WsClient.connect(server.wsUrl, second.accessToken)
    expect((await server.api('/api/auth/logout', { body: { refreshToken: user.refreshToken } })).status).toBe(204)
    ws.send({ type: 'auth', token: user.accessToken })
    await ws.waitFor((f) => f.type === 'error' && f.code === 'session_revoked')
    ws.send({ type: 'ping' })
    await ws.waitFor((f) => f.type === 'pong')
    ws.close()
  })
})

describe('every session of a user ends (services.sessions)', () => {
  test('endAll: every token and socket of the user ends, refresh tokens too; a new sign-in works', async () => {
    const user = await registerUser(server, 'endall')
    const bystander = await registerUser(server, 'bystander')
    const second = await login(user)
    const sockets = await Promise.all([
      WsClient.connect(server.wsUrl, user.accessToken),
      WsClient.connect(server.wsUrl, second.accessToken),
    ])
    const bystanderWs = await WsClient.connect(server.wsUrl, bystander.accessToken)

    await server.services.sessions.endAll(user.id, 'session_revoked')
    await expectEnded(user.accessToken, 'session_revoked')
    await expectEnded(second.accessToken, 'session_revoked')
    for (const ws of sockets) await expectClosed(ws, 'session_revoked')
    await expectError(await refresh(user.refreshToken), 401)
    await expectError(await refresh(second.refreshToken), 401)

    // Another user is untouched; the user signs in again and that session works.
    await expectLive(bystander.accessToken, bystander.id)
    bystanderWs.send({ type: 'ping' })
    await bystanderWs.waitFor((f) => f.type === 'pong')
    bystanderWs.close()
    const again = await login(user)
    await expectLive(again.accessToken, user.id)
    await expectJson(await refresh(again.refreshToken))
  })

  test("endOthers (password change): every other sign-in ends at once, the caller's own goes on", async () => {
    const user = await registerUser(server, 'others')
    const [second, third] = [await login(user), await login(user)]
    const otherWs = await WsClient.connect(server.wsUrl, second.accessToken)
    const ownWs = await WsClient.connect(server.wsUrl, user.accessToken)
    const own = await server.services.access.verify(user.accessToken)
    await server.services.sessions.endOthers(user.id, own.familyId!)
    await expectEnded(second.accessToken, 'session_revoked')
    await expectEnded(third.accessToken, 'session_revoked')
    await expectClosed(otherWs, 'session_revoked')
    await expectError(await refresh(third.refreshToken), 401)
    await expectLive(user.accessToken, user.id)
    ownWs.send({ type: 'ping' })
    await ownWs.waitFor((f) => f.type === 'pong')
    await expectJson(await refresh(user.refreshToken))
    ownWs.close()
  })

  test('setDisabled: 401 account_disabled everywhere, sockets close 4401, no sign-in or refresh; enabling does not revive old sessions', async () => {
    const user = await registerUser(server, 'disabled')
    const ws = await WsClient.connect(server.wsUrl, user.accessToken)

    await server.services.sessions.setDisabled(user.id, true)
    await expectEnded(user.accessToken, 'account_disabled')
    await expectClosed(ws, 'account_disabled')
    await expectError(
      await server.api('/api/auth/login', { body: { email: user.email, password: user.password } }),
      403,
      'account_disabled',
    )
    await expectError(await refresh(user.refreshToken), 401)
    // A socket can't start with it either.
    const late = await WsClient.open(server.wsUrl)
    late.send({ type: 'auth', token: user.accessToken })
    expect((await late.closed).code).toBe(4401)

    await server.services.sessions.setDisabled(user.id, false)
    await expectEnded(user.accessToken, 'account_disabled')
    const again = await login(user)
    await expectLive(again.accessToken, user.id)
  })

  test('setRole: live sessions get the new role at once', async () => {
    const user = await registerUser(server, 'promoted')
    const claims = await server.services.access.verify(user.accessToken)
    expect(claims.role).toBe('member')
    await server.services.sessions.setRole(user.id, 'admin')
    expect(await server.services.sessions.check(claims)).toEqual({ ok: true, role: 'admin' })
    expect((await expectJson(await server.api('/api/me', { token: user.accessToken }))).user.role).toBe('admin')
    await server.services.sessions.setRole(user.id, 'member')
    expect(await server.services.sessions.check(claims)).toEqual({ ok: true, role: 'member' })
  })

  test('a deleted account: its tokens are 401 session_revoked (never a 500), its sockets close 4401', async () => {
    const user = await registerUser(server, 'deleted')
    const ws = await WsClient.connect(server.wsUrl, user.accessToken)
    await server.services.database.client.execute({ sql: 'DELETE FROM users WHERE id = ?', args: [user.id] })
    await server.services.sessions.endAll(user.id, 'account_deleted')
    await expectEnded(user.accessToken, 'session_revoked')
    await expectClosed(ws, 'session_revoked')
    await expectError(await refresh(user.refreshToken), 401)
  })

  test('a validly signed token of an account that never existed (or went while the server was down) is a 401', async () => {
    const token = await forgeAccessToken(server.config, { sub: `gone-${crypto.randomUUID()}` })
    await expectEnded(token, 'session_revoked')
    const ws = await WsClient.open(server.wsUrl)
    ws.send({ type: 'auth', token })
    expect((await ws.closed).code).toBe(4401)
  })
})

describe('changes made by another process on the same database (bun run admin)', () => {
  test('disable and sign-out written by another process end the sessions here within a moment', async () => {
    const [disabled, signedOut, bystander] = [
      await registerUser(server, 'cli-di'),
      await registerUser(server, 'cli-so'),
      await registerUser(server, 'cli-ok'),
    ]
    const sockets = [
      await WsClient.connect(server.wsUrl, disabled.accessToken),
      await WsClient.connect(server.wsUrl, signedOut.accessToken),
    ]
    for (const user of [disabled, signedOut, bystander]) await expectLive(user.accessToken, user.id)

    // What `bun run admin disable/sign-out` does: its own connection, its own sessions service, no Redis.
    const other = await openDatabase(server.config.databaseUrl)
    const cli = sessionsService({
      users: usersRepository(other),
      refresh: refreshTokenStore(other, 60),
      accessTokenTtlSeconds: 60,
      pollMs: 0,
    })
    try {
      await cli.setDisabled(disabled.id, true)
      await cli.endAll(signedOut.id, 'session_revoked')
    } finally {
      cli.close()
      other.close()
    }
    // The server reads the change on its next poll (every 500 ms): wait for the condition.
    await expectClosed(sockets[0], 'account_disabled')
    await expectClosed(sockets[1], 'session_revoked')
    await expectEnded(disabled.accessToken, 'account_disabled')
    await expectEnded(signedOut.accessToken, 'session_revoked')
    await expectLive(bystander.accessToken, bystander.id)
  })
})

describe('revocations survive a restart', () => {
  test('a logged-out session, a signed-out user and a disabled user stay ended after the server restarts', async () => {
    const first = await startTestServer()
    const env = { DATA_DIR: first.dataDir }
    let second: TestServer | undefined
    try {
      await registerUser(first, 'root')
      const [loggedOut, signedOut, disabled, untouched] = [
        await registerUser(first, 'lo'),
        await registerUser(first, 'so'),
        await registerUser(first, 'di'),
        await registerUser(first, 'ok'),
      ]
      expect((await first.api('/api/auth/logout', { body: { refreshToken: loggedOut.refreshToken } })).status).toBe(204)
      await first.services.sessions.endAll(signedOut.id, 'session_revoked')
      await first.services.sessions.setDisabled(disabled.id, true)
      await first.stop()

      second = await startTestServer(env)
      await expectError(await second.api('/api/me', { token: loggedOut.accessToken }), 401, 'session_revoked')
      await expectError(await second.api('/api/me', { token: signedOut.accessToken }), 401, 'session_revoked')
      await expectError(await second.api('/api/me', { token: disabled.accessToken }), 401, 'account_disabled')
      expect((await expectJson(await second.api('/api/me', { token: untouched.accessToken }))).user.id).toBe(
        untouched.id,
      )
    } finally {
      await second?.close()
      await first.close()
    }
  })
})
