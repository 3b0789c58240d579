/**
 * Sessions end at once across processes (PROTOCOL.md §5, cluster mode): a logout or a reused
 * refresh token on one process voids the access token on every other process and closes the
 * user's sockets there with 4401; so do sign-out everywhere and disable, decided on yet another
 * process (an in-process server joined to the same Redis and database, whose services.sessions
 * the admin routes call).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { CLUSTER_SECRET, eventually, startCluster, type TestCluster } from '../support/cluster'
import { redisAvailable, warnIfNoRedis } from '../support/redis'
import { startTestServer, type TestServer } from '../support/server'
import type { TestUser } from '../support/users'
import type { WsClient } from '../support/ws-client'

setDefaultTimeout(60_000)
warnIfNoRedis('tests/cluster/sessions.test.ts')

describe.skipIf(!redisAvailable)('sessions end on every process', () => {
  let cluster: TestCluster
  let admin: TestServer
  beforeAll(async () => {
    cluster = await startCluster({ nodes: 2 })
    admin = await startTestServer({
      REDIS_URL: cluster.redis.url,
      DATABASE_URL: cluster.databaseUrl,
      JWT_SECRET: CLUSTER_SECRET,
      NODE_ID: `admin-${process.pid}`,
    })
  })
  afterAll(async () => {
    await admin?.stop()
    await cluster?.close()
  })

  /** Waits until `token` is refused with `code` on process `node` (the broadcast is asynchronous). */
  const refusedOn = (node: number, token: string, code: string) =>
    eventually(
      async () => {
        const res = await cluster.api(node, '/api/threads', { token })
        if (res.status !== 401) return false
        return ((await res.json()) as any).error.code === code
      },
      30_000, // a hang guard: after a Redis outage the processes reconnect with backoff first
      `a 401 ${code} on process ${node}`,
    )

  const closed4401 = async (ws: WsClient, code: string) => {
    expect((await ws.closed).code).toBe(4401)
    expect(ws.frames.some((f) => f.type === 'error' && f.code === code)).toBe(true)
  }

  const liveOn = async (node: number, user: TestUser) => {
    const me = await cluster.json(node, '/api/me', { token: user.accessToken })
    expect(me.user?.id).toBe(user.id)
  }

  test('logout on process 0 ends the session on process 1 (HTTP 401, socket 4401)', async () => {
    const [user] = await cluster.register(1, 'logout')
    const onB = await cluster.connect(user, 1)
    await liveOn(1, user)
    expect((await cluster.api(0, '/api/auth/logout', { body: { refreshToken: user.refreshToken } })).status).toBe(204)
    await refusedOn(1, user.accessToken, 'session_revoked')
    await closed4401(onB, 'session_revoked')
  })

  test('a reused refresh token on process 1 ends the refreshed session on process 0', async () => {
    const [user] = await cluster.register(1, 'reuse')
    const rotated = await cluster.json(0, '/api/auth/refresh', { body: { refreshToken: user.refreshToken } })
    const onA = await cluster.connect({ accessToken: rotated.accessToken }, 0)
    const reused = await cluster.api(1, '/api/auth/refresh', { body: { refreshToken: user.refreshToken } })
    expect(reused.status).toBe(401)
    await refusedOn(0, rotated.accessToken, 'session_revoked')
    await closed4401(onA, 'session_revoked')
  })

  test('endAll and setDisabled on a third process reach both others', async () => {
    const [signedOut, disabled, bystander] = await cluster.register(3, 'admin-acts')
    const sockets = await Promise.all([
      cluster.connect(signedOut, 0),
      cluster.connect(signedOut, 1),
      cluster.connect(disabled, 0),
      cluster.connect(disabled, 1),
    ])
    for (const node of [0, 1]) for (const user of [signedOut, disabled, bystander]) await liveOn(node, user)

    await admin.services.sessions.endAll(signedOut.id, 'session_revoked')
    await admin.services.sessions.setDisabled(disabled.id, true)
    for (const node of [0, 1]) {
      await refusedOn(node, signedOut.accessToken, 'session_revoked')
      await refusedOn(node, disabled.accessToken, 'account_disabled')
      await liveOn(node, bystander)
    }
    await closed4401(sockets[0], 'session_revoked')
    await closed4401(sockets[1], 'session_revoked')
    await closed4401(sockets[2], 'account_disabled')
    await closed4401(sockets[3], 'account_disabled')
    // Neither refreshes nor signs in again on any process.
    for (const node of [0, 1]) {
      expect(
        (await cluster.api(node, '/api/auth/refresh', { body: { refreshToken: signedOut.refreshToken } })).status,
      ).toBe(401)
      expect(
        (await cluster.api(node, '/api/auth/login', { body: { email: disabled.email, password: disabled.password } }))
          .status,
      ).toBe(403)
    }
  })

  test('setRole on a third process: the role changes on the others for live sessions', async () => {
    const [user] = await cluster.register(1, 'role')
    await admin.services.sessions.setRole(user.id, 'admin')
    // The token still says "user"; the in-process node's view (and the database) say admin.
    const claims = await admin.services.access.verify(user.accessToken)
    expect(claims.role).toBe('member')
    expect(await admin.services.sessions.check(claims)).toEqual({ ok: true, role: 'admin' })
    await eventually(
      async () => (await cluster.json(1, '/api/me', { token: user.accessToken })).user?.role === 'admin',
      10_000,
      'the new role on process 1',
    )
  })

  // Last: it stops Redis.
  test('a logout while Redis is down still reaches the other process once Redis is back', async () => {
    const [user] = await cluster.register(1, 'outage')
    const onB = await cluster.connect(user, 1)
    await liveOn(1, user)
    await cluster.redis.stop()
    // The database takes the logout; the broadcast waits for Redis.
    expect((await cluster.api(0, '/api/auth/logout', { body: { refreshToken: user.refreshToken } })).status).toBe(204)
    await cluster.redis.restart()
    await refusedOn(1, user.accessToken, 'session_revoked')
    expect((await onB.closed).code).toBe(4401)
  })
})
