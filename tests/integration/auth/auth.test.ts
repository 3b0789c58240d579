/**
 * Accounts and sessions over real HTTP (PROTOCOL.md §2): register, login, refresh-token
 * rotation with reuse detection, logout, /api/me, every kind of bad access token, login rate
 * limits, and per-user isolation of threads. argon2 is slow here, so users are few and reused.
 */
import { test, expect, describe, setDefaultTimeout } from 'bun:test'
import { startTestServer } from '../../support/server'
import { registerUser, type TestUser } from '../../support/users'
import { forgeAccessToken, tamperPayload, unsignedToken, decodePayload } from '../../support/tokens'
import { expectError, expectJson } from '../../support/http'
import { asUser } from '../../support/db'
import { useTestServer } from '../../support/fixtures'

// A hang guard, not a speed bound: argon2 and real servers are slow on a loaded 2-core machine.
// Set per file because bun 1.4 applies a preload's setDefaultTimeout to the first file only.
setDefaultTimeout(30_000)

const {
  server,
  users: [alice, bob],
} = useTestServer({ users: ['alice', 'bob'] })

const me = (token: string) => server.api('/api/me', { token })
const refresh = (refreshToken: string) => server.api('/api/auth/refresh', { body: { refreshToken } })
const login = (email: string, password: string) => server.api('/api/auth/login', { body: { email, password } })

describe('register', () => {
  test('201 with user, tokens and expiry; the first account is admin, the next a member', async () => {
    const email = `carol-${crypto.randomUUID()}@Example.test`
    const res = await server.api('/api/auth/register', {
      body: { email, password: 'correct horse battery', name: 'Carol' },
    })
    const body = await expectJson(res, 201)
    expect(Object.keys(body).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken', 'user'])
    expect(body.user).toEqual({ id: expect.any(String), email: email.toLowerCase(), name: 'Carol', role: 'member' })
    expect(body.expiresIn).toBe(900)
    expect(typeof body.refreshToken).toBe('string')
    expect(decodePayload(body.accessToken)).toMatchObject({
      sub: body.user.id,
      iss: server.config.jwtIssuer,
      aud: server.config.jwtAudience,
    })
    expect(JSON.stringify(body)).not.toMatch(/password|hash/i)

    expect((await expectJson(await me(alice.accessToken))).user).toMatchObject({ id: alice.id, role: 'admin' })
    expect((await expectJson(await me(bob.accessToken))).user).toMatchObject({ id: bob.id, role: 'member' })
  })

  test('a name defaults to the part of the email before @', async () => {
    // Validation runs before hashing, so only one argon2 hash here.
    const email = `dave-${crypto.randomUUID()}@example.test`
    const body = await expectJson(
      await server.api('/api/auth/register', { body: { email, password: 'quiet orbit lantern' } }),
      201,
    )
    expect(body.user.name).toBe(email.split('@')[0])
  })

  test('409 email_taken, whatever the case of the address', async () => {
    await expectError(
      await server.api('/api/auth/register', {
        body: { email: alice.email.toUpperCase(), password: 'another password' },
      }),
      409,
      'email_taken',
    )
  })

  test('400 on a bad email or a missing field; a short password is a weak one', async () => {
    const short = await expectError(
      await server.api('/api/auth/register', { body: { email: 'eve@example.test', password: 'short' } }),
      400,
      'weak_password',
    )
    expect(short.error.message).toContain('at least 8 characters')
    for (const body of [
      { email: 'not-an-email', password: 'quiet orbit lantern' },
      { email: '', password: 'quiet orbit lantern' },
      { email: 'eve@example.test', password: 'x'.repeat(257) },
      { email: 'eve@example.test' },
      { password: 'quiet orbit lantern' },
      { email: 42, password: 'quiet orbit lantern' },
    ]) {
      await expectError(await server.api('/api/auth/register', { body }), 400, 'invalid_input')
    }
  })

  test('400 weak_password for common and guessable passwords, saying why; nothing is created', async () => {
    for (const password of ['password', '12345678', 'qwertyuiop', 'iloveyou12', 'Password1!']) {
      const email = `weak-${crypto.randomUUID()}@example.test`
      const body = await expectError(
        await server.api('/api/auth/register', { body: { email, password } }),
        400,
        'weak_password',
      )
      expect(body.error.message).toMatch(/too weak: .*(common|guess|used)/i)
      // Nothing was created: the same email registers with a strong password.
      expect((await server.api('/api/auth/login', { body: { email, password } })).status).toBe(401)
    }
    // The email and name count as guessable words.
    const email = `frederick-${crypto.randomUUID().slice(0, 8)}@example.test`
    await expectError(
      await server.api('/api/auth/register', { body: { email, password: email.split('@')[0], name: 'Frederick' } }),
      400,
      'weak_password',
    )
  })

  test('ALLOW_SIGNUP=false closes register except for the first user (403)', async () => {
    const closed = await startTestServer({ ALLOW_SIGNUP: 'false' })
    try {
      const first = await expectJson(
        await closed.api('/api/auth/register', {
          body: { email: 'root@example.test', password: 'quiet orbit lantern' },
        }),
        201,
      )
      expect(first.user.role).toBe('admin')
      await expectError(
        await closed.api('/api/auth/register', {
          body: { email: 'guest@example.test', password: 'quiet orbit lantern' },
        }),
        403,
        'signup_closed',
      )
      // The existing account still logs in.
      await expectJson(
        await closed.api('/api/auth/login', { body: { email: 'root@example.test', password: 'quiet orbit lantern' } }),
      )
    } finally {
      await closed.close()
    }
  })
})

describe('login', () => {
  test('200 with a new session; the tokens work', async () => {
    const body = await expectJson(await login(bob.email, bob.password))
    expect(Object.keys(body).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken', 'user'])
    expect(body.user).toEqual({ id: bob.id, email: bob.email, name: expect.any(String), role: 'member' })
    expect(body.refreshToken).not.toBe(bob.refreshToken)
    expect((await expectJson(await me(body.accessToken))).user.id).toBe(bob.id)
    await expectJson(await refresh(body.refreshToken))
  })

  test('401 invalid_credentials for a wrong password and for an unknown email, alike', async () => {
    const wrong = await expectError(await login(bob.email, 'not the password'), 401, 'invalid_credentials')
    const unknown = await expectError(
      await login(`nobody-${crypto.randomUUID()}@example.test`, 'whatever pw'),
      401,
      'invalid_credentials',
    )
    expect(unknown.error.message).toBe(wrong.error.message)
  })
})

describe('refresh tokens', () => {
  test('rotation gives new tokens and spends the old refresh token', async () => {
    const session = await expectJson(await login(alice.email, alice.password))
    const rotated = await expectJson(await refresh(session.refreshToken))
    expect(Object.keys(rotated).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken'])
    expect(rotated.refreshToken).not.toBe(session.refreshToken)
    expect(rotated.expiresIn).toBe(900)
    expect(decodePayload(rotated.accessToken).jti).not.toBe(decodePayload(session.accessToken).jti)
    expect((await expectJson(await me(rotated.accessToken))).user.id).toBe(alice.id)
    // And the new one rotates in its turn.
    const again = await expectJson(await refresh(rotated.refreshToken))
    expect(again.refreshToken).not.toBe(rotated.refreshToken)
  })

  test('presenting a spent token → 401 refresh_token_reused and the whole family is revoked', async () => {
    const session = await expectJson(await login(alice.email, alice.password))
    const other = await expectJson(await login(alice.email, alice.password)) // another device
    const r1 = session.refreshToken
    const r2 = (await expectJson(await refresh(r1))).refreshToken
    const r3 = (await expectJson(await refresh(r2))).refreshToken

    await expectError(await refresh(r1), 401, 'refresh_token_reused')
    // The newest token of the family no longer works, nor does any other of it.
    await expectError(await refresh(r3), 401)
    await expectError(await refresh(r2), 401)
    // Another family (another sign-in) is not affected.
    await expectJson(await refresh(other.refreshToken))
  })

  test('two refreshes racing with the same token: at most one wins', async () => {
    const session = await expectJson(await login(bob.email, bob.password))
    const answers = await Promise.all([refresh(session.refreshToken), refresh(session.refreshToken)])
    expect(answers.map((r) => r.status).sort()).toEqual([200, 401])
  })

  test('an expired refresh token → 401 refresh_token_expired', async () => {
    const session = await expectJson(await login(bob.email, bob.password))
    // Age the stored token in the real database rather than waiting 30 days.
    const hash = new Bun.CryptoHasher('sha256').update(session.refreshToken).digest('hex')
    const aged = await server.services.database.client.execute({
      sql: 'UPDATE refresh_tokens SET expires_at = ? WHERE token_hash = ?',
      args: [Date.now() - 1000, hash],
    })
    expect(aged.rowsAffected).toBe(1)
    await expectError(await refresh(session.refreshToken), 401, 'refresh_token_expired')
  })

  test('an unknown refresh token is 401; a malformed body is 400', async () => {
    await expectError(await refresh('not-a-token'), 401, 'invalid_refresh_token')
    await expectError(await server.api('/api/auth/refresh', { body: {} }), 400, 'invalid_input')
  })

  test('logout → 204 and the family no longer refreshes, even through a token rotated out before', async () => {
    const session = await expectJson(await login(bob.email, bob.password))
    const rotated = await expectJson(await refresh(session.refreshToken))
    const res = await server.api('/api/auth/logout', { body: { refreshToken: rotated.refreshToken } })
    expect(res.status).toBe(204)
    expect(await res.text()).toBe('')
    await expectError(await refresh(rotated.refreshToken), 401)
    // Logging out with the older (spent) token of a live family revokes it too.
    const s2 = await expectJson(await login(bob.email, bob.password))
    const s2b = await expectJson(await refresh(s2.refreshToken))
    expect((await server.api('/api/auth/logout', { body: { refreshToken: s2.refreshToken } })).status).toBe(204)
    await expectError(await refresh(s2b.refreshToken), 401)
    // Logging out an unknown token says nothing about it.
    expect((await server.api('/api/auth/logout', { body: { refreshToken: 'unknown' } })).status).toBe(204)
  })
})

describe('/api/me and access tokens', () => {
  test('/api/me answers {user} with id, email, name and role only', async () => {
    const body = await expectJson(await me(bob.accessToken))
    expect(body).toEqual({ user: { id: bob.id, email: bob.email, name: 'bob', role: 'member' } })
  })

  test('no token, or not a Bearer one → 401', async () => {
    await expectError(await server.api('/api/me'), 401)
    await expectError(await server.api('/api/me', { headers: { authorization: `Basic ${btoa('a:b')}` } }), 401)
    await expectError(await server.api('/api/me', { headers: { authorization: 'Bearer' } }), 401)
  })

  test('every kind of bad access token → 401 with the error envelope', async () => {
    const cfg = server.config
    const nowS = Math.floor(Date.now() / 1000)
    const cases: [string, string][] = [
      ['expired', await forgeAccessToken(cfg, { sub: alice.id, iat: nowS - 7200, exp: nowS - 3600 })],
      ['tampered payload', tamperPayload(bob.accessToken, (p) => (p.sub = alice.id))],
      ['tampered role', tamperPayload(bob.accessToken, (p) => (p.role = 'admin'))],
      ['alg none', unsignedToken(cfg, alice.id)],
      [
        'wrong secret',
        await forgeAccessToken(cfg, { sub: alice.id, secret: 'another-secret-that-is-also-long-enough-000' }),
      ],
      ['wrong issuer', await forgeAccessToken(cfg, { sub: alice.id, issuer: 'someone-else' })],
      ['wrong audience', await forgeAccessToken(cfg, { sub: alice.id, audience: 'another-service' })],
      ['missing sub', await forgeAccessToken(cfg, { sub: null })],
      ['signature stripped', bob.accessToken.split('.').slice(0, 2).join('.') + '.'],
      ['garbage', 'garbage'],
      ['three garbage parts', 'a.b.c'],
    ]
    for (const [name, token] of cases) {
      const res = await me(token)
      const body = await expectError(res, 401)
      expect({ name, code: body.error.code }).toEqual({
        name,
        code: name === 'expired' ? 'token_expired' : 'invalid_token',
      })
      // Not on a protected thread route either.
      await expectError(await server.api('/api/threads', { token }), 401)
    }
    // The control: a token forged with the real secret and claims is accepted, which proves the
    // cases above fail for the one thing each changes.
    expect((await me(await forgeAccessToken(cfg, { sub: alice.id }))).status).toBe(200)
  })
})

describe('abuse limits (LOGIN_RATE_LIMIT=3, TRUSTED_PROXIES=127.0.0.1)', () => {
  // The test client is the trusted proxy, so X-Forwarded-For says where each "client" is.
  const { server: limited } = useTestServer({ env: { LOGIN_RATE_LIMIT: '3', TRUSTED_PROXIES: '127.0.0.1' } })

  const from = (address: string, body: unknown, path = '/api/auth/login') =>
    limited.api(path, { body, headers: { 'x-forwarded-for': address } })

  test('failures of one account from one address back off with 429 + Retry-After; the owner elsewhere still signs in', async () => {
    const owner = await registerUser(limited, 'owner')
    for (let i = 0; i < 3; i++)
      await expectError(
        await from('203.0.113.66', { email: owner.email, password: 'wrong password' }),
        401,
        'invalid_credentials',
      )
    // The attacker's address is held back — even with the right password.
    const res = await from('203.0.113.66', { email: owner.email, password: owner.password })
    const retryAfter = Number(res.headers.get('retry-after'))
    await expectError(res, 429, 'rate_limited')
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 300).toBe(true)
    // The owner, somewhere else, is not locked out; nor is another account from the attacker's address.
    await expectJson(await from('198.51.100.7', { email: owner.email, password: owner.password }))
    const other = await registerUser(limited, 'other')
    await expectJson(await from('203.0.113.66', { email: other.email, password: other.password }))
  })

  test('successful logins never count: a team behind one address signs in as often as it likes', async () => {
    const user = await registerUser(limited, 'team')
    for (let i = 0; i < 12; i++)
      await expectJson(await from('192.0.2.10', { email: user.email, password: user.password }))
    // A success also clears that address's failures for the account: two typos, then a sign-in, twice.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 2; i++)
        await expectError(
          await from('192.0.2.10', { email: user.email, password: 'typo password' }),
          401,
          'invalid_credentials',
        )
      await expectJson(await from('192.0.2.10', { email: user.email, password: user.password }))
    }
  })

  test('one address failing across many accounts is refused after 10 × the limit (credential stuffing)', async () => {
    const attempts = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        from('203.0.113.99', { email: `stuffed-${i}@example.test`, password: 'whatever pw' }),
      ),
    )
    const statuses = attempts.map((r) => r.status)
    // Counted when they start, so even a parallel burst can't slip past: exactly 30 allowed.
    expect(statuses.filter((s) => s === 401).length).toBe(30)
    const res = await from('203.0.113.99', { email: 'stuffed-31@example.test', password: 'whatever pw' })
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    await expectError(res, 429, 'rate_limited')
    // Another address is not affected.
    await expectError(
      await from('203.0.113.100', { email: 'stuffed-31@example.test', password: 'whatever pw' }),
      401,
      'invalid_credentials',
    )
  })

  test('a parallel burst of guesses at one account gets only the free attempts through', async () => {
    const victim = await registerUser(limited, 'burst')
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => from('203.0.113.5', { email: victim.email, password: 'guess password' })),
    )
    expect(answers.map((r) => r.status).sort()).toEqual([401, 401, 401, 429, 429, 429, 429, 429, 429, 429])
  })

  test('registrations per address (REGISTER_RATE_LIMIT=3): the 4th → 429 with Retry-After; another address still registers', async () => {
    const capped = await startTestServer({ REGISTER_RATE_LIMIT: '3', TRUSTED_PROXIES: '127.0.0.1' })
    try {
      const register = (address: string) =>
        capped.api('/api/auth/register', {
          body: { email: `reg-${crypto.randomUUID()}@example.test`, password: `pw-${crypto.randomUUID()}` },
          headers: { 'x-forwarded-for': address },
        })
      for (let i = 0; i < 3; i++) expect((await register('198.51.100.50')).status).toBe(201)
      const res = await register('198.51.100.50')
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      await expectError(res, 429, 'rate_limited')
      expect((await register('198.51.100.51')).status).toBe(201)
    } finally {
      await capped.close()
    }
  })
})

describe('X-Forwarded-For from an untrusted peer is ignored', () => {
  test('without TRUSTED_PROXIES a client cannot dodge the limit by inventing addresses', async () => {
    const plain = await startTestServer({ LOGIN_RATE_LIMIT: '2' })
    try {
      const user = await registerUser(plain, 'spoof')
      for (let i = 0; i < 2; i++) {
        const res = await plain.api('/api/auth/login', {
          body: { email: user.email, password: 'wrong password' },
          headers: { 'x-forwarded-for': `10.0.0.${i}` },
        })
        await expectError(res, 401, 'invalid_credentials')
      }
      const res = await plain.api('/api/auth/login', {
        body: { email: user.email, password: user.password },
        headers: { 'x-forwarded-for': '10.0.0.99' },
      })
      await expectError(res, 429, 'rate_limited')
    } finally {
      await plain.close()
    }
  })
})

describe("another user's threads", () => {
  test('are 404 for GET, PATCH, DELETE and messages, never in the list, and left unchanged', async () => {
    const created = await expectJson(
      await server.api('/api/threads', { token: alice.accessToken, body: { title: 'alice private' } }),
      201,
    )
    const id = created.thread.id
    await asUser(alice, () =>
      server.services.repos.messages.add({ threadId: id, role: 'user', content: 'alice secret' }),
    )

    const notFound = [
      await server.api(`/api/threads/${id}`, { token: bob.accessToken }),
      await server.api(`/api/threads/${id}`, {
        token: bob.accessToken,
        method: 'PATCH',
        body: { title: 'bob was here' },
      }),
      await server.api(`/api/threads/${id}`, { token: bob.accessToken, method: 'DELETE' }),
      await server.api(`/api/threads/${id}/messages`, { token: bob.accessToken }),
    ]
    const bodies = []
    for (const res of notFound) bodies.push(await expectError(res, 404, 'not_found'))
    // Exactly what a thread that does not exist answers: nothing tells the two apart.
    const missing = await expectError(
      await server.api(`/api/threads/${crypto.randomUUID()}`, { token: bob.accessToken }),
      404,
      'not_found',
    )
    expect(bodies[0]).toEqual(missing)
    for (const body of bodies) expect(JSON.stringify(body)).not.toContain('alice')

    const bobList = await expectJson(await server.api('/api/threads', { token: bob.accessToken }))
    expect(bobList.threads.map((t: any) => t.id)).not.toContain(id)

    const still = await expectJson(await server.api(`/api/threads/${id}`, { token: alice.accessToken }))
    expect(still.thread.title).toBe('alice private')
    const msgs = await expectJson(await server.api(`/api/threads/${id}/messages`, { token: alice.accessToken }))
    expect(msgs.messages.map((m: any) => m.content)).toEqual(['alice secret'])
  })

  test('concurrent requests of two users never see each other (per-request context)', async () => {
    const mk = (user: TestUser, i: number) =>
      server.api('/api/threads', { token: user.accessToken, body: { title: `${user === alice ? 'A' : 'B'}-${i}` } })
    const made = await Promise.all(Array.from({ length: 40 }, (_, i) => mk(i % 2 ? bob : alice, i)))
    for (const res of made) expect(res.status).toBe(201)

    const reads = await Promise.all(
      Array.from({ length: 60 }, async (_, i) => {
        const user = i % 2 ? bob : alice
        const body = await expectJson(await server.api(i % 3 ? '/api/threads' : '/api/me', { token: user.accessToken }))
        return { user, body }
      }),
    )
    for (const { user, body } of reads) {
      if (body.user) expect(body.user.id).toBe(user.id)
      else for (const thread of body.threads) expect(thread.title.startsWith(user === alice ? 'B-' : 'A-')).toBe(false)
    }
  })
})
