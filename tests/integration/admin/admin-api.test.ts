/**
 * The admin API over real HTTP (PROTOCOL.md §5): paged user list, creating accounts with
 * sign-up closed, promote/demote, disable/enable, sign-out everywhere, quotas per user, the
 * last-admin rule, 403 for members, and bad input that changes nothing.
 */
import { test, expect, describe, beforeAll, afterAll, setDefaultTimeout } from 'bun:test'
import { startTestServer, type TestServer } from '../../support/server'
import { registerUser, type TestUser } from '../../support/users'
import { expectError, expectJson } from '../../support/http'
import { allPages, login, refresh } from '../../support/teams'

setDefaultTimeout(60_000)

let server: TestServer
let admin: TestUser
let bob: TestUser

beforeAll(async () => {
  // Sign-up closed: only the first account registers itself; admins create the rest.
  server = await startTestServer({ ALLOW_SIGNUP: 'false' })
  admin = await registerUser(server, 'admin')
})
afterAll(async () => {
  await server?.close()
})

const adminApi = (path: string, init: { method?: string; body?: unknown; token?: string } = {}) =>
  server.api(path, { token: admin.accessToken, ...init })
const patchUser = (id: string, body: unknown, token = admin.accessToken) =>
  server.api(`/api/admin/users/${id}`, { method: 'PATCH', body, token })

/** Creates an account through the admin API and signs it in. */
async function createMember(name: string, role?: 'admin' | 'member'): Promise<TestUser> {
  const email = `${name}-${crypto.randomUUID()}@example.test`
  const password = `pw-${crypto.randomUUID()}`
  const created = await expectJson(
    await adminApi('/api/admin/users', { body: { email, password, name, ...(role && { role }) } }),
    201,
  )
  const session = await expectJson(await login(server, { email, password }))
  return { id: created.user.id, email, password, accessToken: session.accessToken, refreshToken: session.refreshToken }
}

describe('accounts', () => {
  test('an admin creates accounts while sign-up is closed; they are members unless said otherwise', async () => {
    await expectError(
      await server.api('/api/auth/register', {
        body: { email: `x-${crypto.randomUUID()}@example.test`, password: 'long enough pw' },
      }),
      403,
      'signup_closed',
    )
    bob = await createMember('bob')
    const me = await expectJson(await server.api('/api/me', { token: bob.accessToken }))
    expect(me.user).toEqual({ id: bob.id, email: bob.email, name: 'bob', role: 'member' })

    const listed = await allPages<any>(server, '/api/admin/users', admin.accessToken, 'users', 1)
    const row = listed.find((u) => u.id === bob.id)
    expect(row).toEqual({
      id: bob.id,
      email: bob.email,
      name: 'bob',
      role: 'member',
      disabled: false,
      createdAt: expect.any(String),
      lastActiveAt: expect.any(String),
      quota: null,
    })
    expect(JSON.stringify(listed)).not.toMatch(/password|hash/i)
  })

  test('the user list pages with limit and cursor, each account once, in creation order', async () => {
    for (let i = 0; i < 3; i++)
      await expectJson(
        await adminApi('/api/admin/users', {
          body: { email: `page-${i}-${crypto.randomUUID()}@example.test`, password: `pw-${crypto.randomUUID()}` },
        }),
        201,
      )
    const all = await allPages<any>(server, '/api/admin/users', admin.accessToken, 'users', 2)
    const whole = await expectJson(await adminApi('/api/admin/users?limit=200'))
    expect(whole.nextCursor).toBeNull()
    expect(all.map((u) => u.id)).toEqual(whole.users.map((u: any) => u.id))
    expect(new Set(all.map((u) => u.id)).size).toBe(all.length)
    expect(all[0].id).toBe(admin.id)
    const first = await expectJson(await adminApi('/api/admin/users?limit=2'))
    expect(first.users).toHaveLength(2)
    expect(typeof first.nextCursor).toBe('string')
  })

  test('bad paging, bodies and ids are 400/404/409 in the envelope and change nothing', async () => {
    for (const q of ['limit=0', 'limit=201', 'limit=abc', 'cursor=not-a-cursor'])
      await expectError(await adminApi(`/api/admin/users?${q}`), 400)
    const email = `dup-${crypto.randomUUID()}@example.test`
    await expectError(
      await adminApi('/api/admin/users', { body: { email: 'not-an-email', password: 'long enough pw' } }),
      400,
      'invalid_input',
    )
    await expectError(await adminApi('/api/admin/users', { body: { email, password: 'short' } }), 400, 'weak_password')
    await expectError(
      await adminApi('/api/admin/users', { body: { email, password: 'long enough pw', role: 'root' } }),
      400,
      'invalid_input',
    )
    await expectError(
      await adminApi('/api/admin/users', { body: { email: bob.email, password: 'long enough pw' } }),
      409,
      'email_taken',
    )
    await expectError(await adminApi('/api/admin/users', { body: '{"email":' }), 400)
    await expectError(await login(server, { email, password: 'long enough pw' }), 401, 'invalid_credentials')

    await expectError(await patchUser(bob.id, { role: 'owner' }), 400, 'invalid_input')
    await expectError(await patchUser(bob.id, { disabled: 'yes' }), 400, 'invalid_input')
    await expectError(await patchUser(bob.id, { quota: { runsPerDay: -1 } }), 400, 'invalid_input')
    await expectError(await patchUser(bob.id, { quota: { runsPerDay: 1.5 } }), 400, 'invalid_input')
    await expectError(await patchUser(bob.id, { email: 'new@example.test' }), 400, 'invalid_input')
    await expectError(await patchUser('no-such-user', { role: 'admin' }), 404, 'not_found')
    await expectError(await adminApi('/api/admin/users/no-such-user/sign-out', { method: 'POST' }), 404, 'not_found')
    const row = (await allPages<any>(server, '/api/admin/users', admin.accessToken, 'users', 200)).find(
      (u) => u.id === bob.id,
    )
    expect(row).toMatchObject({ role: 'member', disabled: false, quota: null, email: bob.email })
  })
})

describe('roles', () => {
  test('members get 403 forbidden on every admin route', async () => {
    const routes: [string, string, unknown?][] = [
      ['GET', '/api/admin/users'],
      ['POST', '/api/admin/users', { email: `m-${crypto.randomUUID()}@example.test`, password: 'long enough pw' }],
      ['PATCH', `/api/admin/users/${admin.id}`, { role: 'member' }],
      ['POST', `/api/admin/users/${admin.id}/sign-out`],
      ['GET', '/api/admin/usage'],
      ['GET', '/api/admin/audit'],
      ['GET', '/api/admin/status'],
    ]
    for (const [method, path, body] of routes)
      await expectError(await server.api(path, { method, body, token: bob.accessToken }), 403, 'forbidden')
    for (const [method, path, body] of routes) await expectError(await server.api(path, { method, body }), 401)
    expect((await expectJson(await adminApi('/api/admin/users'))).users.find((u: any) => u.id === admin.id).role).toBe(
      'admin',
    )
  })

  test('a promotion and a demotion apply on the next request of live sessions', async () => {
    const carol = await createMember('carol')
    await expectError(await server.api('/api/admin/users', { token: carol.accessToken }), 403, 'forbidden')
    expect((await expectJson(await patchUser(carol.id, { role: 'admin' }))).user.role).toBe('admin')
    // The same access token, issued while carol was a member, now reaches the admin API.
    await expectJson(await server.api('/api/admin/users', { token: carol.accessToken }))
    expect((await expectJson(await server.api('/api/me', { token: carol.accessToken }))).user.role).toBe('admin')
    expect((await expectJson(await patchUser(carol.id, { role: 'member' }, carol.accessToken))).user.role).toBe(
      'member',
    )
    await expectError(await server.api('/api/admin/users', { token: carol.accessToken }), 403, 'forbidden')
  })

  test('the last active admin cannot be demoted or disabled (409 last_admin); with a second admin it can', async () => {
    await expectError(await patchUser(admin.id, { role: 'member' }), 409, 'last_admin')
    await expectError(await patchUser(admin.id, { disabled: true }), 409, 'last_admin')
    await expectError(await patchUser(admin.id, { role: 'member', quota: { runsPerDay: 3 } }), 409, 'last_admin')
    const row = (await expectJson(await adminApi('/api/admin/users?limit=200'))).users.find(
      (u: any) => u.id === admin.id,
    )
    expect(row).toMatchObject({ role: 'admin', disabled: false, quota: null })

    const dave = await createMember('dave', 'admin')
    // A disabled admin does not count as active: disabling dave leaves admin the last one again.
    await expectJson(await patchUser(dave.id, { disabled: true }))
    await expectError(await patchUser(admin.id, { role: 'member' }), 409, 'last_admin')
    await expectJson(await patchUser(dave.id, { disabled: false }))
    // Two active admins: either may step down, but not both.
    expect((await expectJson(await patchUser(dave.id, { role: 'member' }))).user.role).toBe('member')
    await expectError(await patchUser(admin.id, { role: 'member' }), 409, 'last_admin')
  })

  test('two demotions racing each other never leave the server without an active admin', async () => {
    const erin = await createMember('erin', 'admin')
    const zed = await createMember('zed', 'admin')
    await expectJson(await patchUser(admin.id, { role: 'member' }, zed.accessToken))
    // admin is a member now; erin and zed both step down at once: one of them must stay.
    const results = await Promise.all([
      patchUser(erin.id, { role: 'member' }, erin.accessToken),
      patchUser(zed.id, { role: 'member' }, zed.accessToken),
    ])
    expect(results.map((r) => r.status).sort()).toEqual([200, 409])
    const survivor = results[0].status === 200 ? zed : erin
    const admins = (await allPages<any>(server, '/api/admin/users', survivor.accessToken, 'users', 200)).filter(
      (u) => u.role === 'admin' && !u.disabled,
    )
    expect(admins.map((u) => u.id)).toEqual([survivor.id])
    // Put admin back in charge for the rest of the file.
    await expectJson(await patchUser(admin.id, { role: 'admin' }, survivor.accessToken))
    await expectJson(await patchUser(survivor.id, { role: 'member' }))
  })
})

describe('sessions', () => {
  test('disabling refuses login (403) and refresh (401), both account_disabled; enabling lets the user sign in again', async () => {
    const frank = await createMember('frank')
    const updated = await expectJson(await patchUser(frank.id, { disabled: true }))
    expect(updated.user).toMatchObject({ id: frank.id, disabled: true })
    await expectError(await refresh(server, frank.refreshToken), 401)
    await expectError(await login(server, frank), 403, 'account_disabled')
    // A wrong password still says only "invalid credentials": disabled-ness is no oracle.
    await expectError(
      await login(server, { email: frank.email, password: 'wrong password!' }),
      401,
      'invalid_credentials',
    )

    await expectJson(await patchUser(frank.id, { disabled: false }))
    const session = await expectJson(await login(server, frank))
    await expectJson(await refresh(server, session.refreshToken))
  })

  test('sign-out everywhere ends every refresh token of that user and no one else’s', async () => {
    const gina = await createMember('gina')
    const second = await expectJson(await login(server, gina))
    const bobSession = await expectJson(await login(server, bob))
    const res = await adminApi(`/api/admin/users/${gina.id}/sign-out`, { method: 'POST' })
    expect(res.status).toBe(204)
    await expectError(await refresh(server, gina.refreshToken), 401)
    await expectError(await refresh(server, second.refreshToken), 401)
    await expectJson(await refresh(server, bobSession.refreshToken))
    // Signing in again works: sign-out is not a disable.
    await expectJson(await login(server, gina))
  })
})

describe('quotas', () => {
  test('a per-user quota is set, partly set, and cleared back to the defaults with null', async () => {
    const both = await expectJson(await patchUser(bob.id, { quota: { runsPerDay: 5, tokensPerDay: 1000 } }))
    expect(both.user.quota).toEqual({ runsPerDay: 5, tokensPerDay: 1000 })
    const usage = await expectJson(await server.api('/api/usage', { token: bob.accessToken }))
    expect(usage.quota).toMatchObject({ runsPerDay: 5, tokensPerDay: 1000, runsUsed: 0, tokensUsed: 0, resetsAt: null })

    const partial = await expectJson(await patchUser(bob.id, { quota: { runsPerDay: 7 } }))
    expect(partial.user.quota).toEqual({ runsPerDay: 7, tokensPerDay: null })
    expect((await expectJson(await server.api('/api/usage', { token: bob.accessToken }))).quota).toMatchObject({
      runsPerDay: 7,
      tokensPerDay: 0,
    })

    const cleared = await expectJson(await patchUser(bob.id, { quota: null }))
    expect(cleared.user.quota).toBeNull()
    expect((await expectJson(await server.api('/api/usage', { token: bob.accessToken }))).quota).toMatchObject({
      runsPerDay: 0,
      tokensPerDay: 0,
    })
  })
})
