/** The browser's session keeper (src/web/client/session.ts): storage, refresh, other tabs. */
import { afterEach, describe, expect, test } from 'bun:test'
import { SESSION_KEY, SessionManager, type SessionChange } from '../../../src/web/client/session'
import { MemoryStorage } from '../../support/memory-storage'

const user = { id: 'u1', email: 'a@example.test', name: 'A', role: 'member' }
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url')
/** A JWT-shaped token (unsigned: the client never verifies, it only reads exp - iat). */
const jwt = (life: number, tag = '') => `${b64({ alg: 'HS256' })}.${b64({ iat: 1000, exp: 1000 + life, tag })}.sig`

const managers: SessionManager[] = []
afterEach(() => {
  for (const m of managers.splice(0)) m.dispose()
})

function setup(opts: { stored?: object; respond?: (n: number) => Response | Promise<Response> } = {}) {
  const storage = new MemoryStorage()
  if (opts.stored) storage.setItem(SESSION_KEY, JSON.stringify(opts.stored))
  const calls: any[] = []
  const fetch = async (url: string, init?: RequestInit) => {
    calls.push({ url, body: JSON.parse(String(init?.body)) })
    return opts.respond
      ? opts.respond(calls.length)
      : Response.json({ accessToken: jwt(900, `n${calls.length}`), refreshToken: `r${calls.length}`, expiresIn: 900 })
  }
  const session = new SessionManager({ storage, fetch })
  managers.push(session)
  const changes: SessionChange[] = []
  session.onChange((c) => changes.push(c))
  return { session, storage, calls, changes }
}

const stored = (over: object = {}) => ({
  user,
  accessToken: jwt(900, 'a'),
  refreshToken: 'r0',
  expiresIn: 900,
  obtainedAt: Date.now(),
  ...over,
})

describe('SessionManager', () => {
  test('reads the session the OIDC callback or another tab stored, and persists a sign-in', () => {
    const { session } = setup({ stored: stored() })
    expect(session.user).toEqual(user)
    const fresh = setup()
    expect(fresh.session.session).toBeUndefined()
    fresh.session.signIn({ user, accessToken: jwt(900), refreshToken: 'r1', expiresIn: 900 })
    const saved = JSON.parse(fresh.storage.getItem(SESSION_KEY)!)
    expect(saved.refreshToken).toBe('r1')
    expect(saved.obtainedAt).toBeGreaterThan(Date.now() - 1000)
  })

  test('refresh spends the refresh token once, even when asked twice at the same time', async () => {
    const { session, calls, storage, changes } = setup({ stored: stored() })
    const [a, b] = await Promise.all([session.refresh(), session.refresh()])
    expect(a).toBe(b)
    expect(calls).toEqual([{ url: '/api/auth/refresh', body: { refreshToken: 'r0' } }])
    expect(JSON.parse(storage.getItem(SESSION_KEY)!).refreshToken).toBe('r1')
    expect(changes.map((c) => c.kind)).toEqual(['token'])
  })

  test('adopts the tokens another tab already refreshed instead of spending a used refresh token', async () => {
    const { session, calls, storage } = setup({ stored: stored() })
    storage.setItem(
      SESSION_KEY,
      JSON.stringify(stored({ accessToken: jwt(900, 'other-tab'), refreshToken: 'r-other' })),
    )
    expect(await session.refresh()).toBe(jwt(900, 'other-tab'))
    expect(calls).toEqual([])
    expect(session.session!.refreshToken).toBe('r-other')
  })

  test('a rejected refresh signs out; a network failure keeps the session', async () => {
    const rejected = setup({
      stored: stored(),
      respond: () => Response.json({ error: { code: 'refresh_token_reused' } }, { status: 401 }),
    })
    expect(await rejected.session.refresh()).toBeUndefined()
    expect(rejected.storage.getItem(SESSION_KEY)).toBeNull()
    expect(rejected.changes).toEqual([{ kind: 'signed-out', reason: 'expired' }])

    const offline = setup({
      stored: stored(),
      respond: () => {
        throw new TypeError('network down')
      },
    })
    expect(await offline.session.refresh()).toBe(jwt(900, 'a')) // still valid: keep using it
    expect(offline.session.session).toBeDefined()
  })

  test('freshToken refreshes a token about to expire, not a fresh one', async () => {
    const fresh = setup({ stored: stored() })
    expect(await fresh.session.freshToken()).toBe(jwt(900, 'a'))
    expect(fresh.calls.length).toBe(0)
    const old = setup({ stored: stored({ obtainedAt: Date.now() - 899_500 }) })
    expect(await old.session.freshToken()).toBe(jwt(900, 'n1'))
  })

  test('the token’s own lifetime wins over a wrong expiresIn', async () => {
    const { session } = setup({ stored: stored({ accessToken: jwt(3), expiresIn: 900 }) })
    expect(session.expiresAt! - Date.now()).toBeLessThanOrEqual(3000)
  })

  test('refreshes on its own shortly before expiry', async () => {
    const { calls } = setup({ stored: stored({ accessToken: jwt(2), expiresIn: 2 }) })
    await Bun.sleep(1300)
    expect(calls.length).toBe(1)
  })

  test('token_expiring refreshes only a token past half its life', async () => {
    const young = setup({ stored: stored() })
    await young.session.onTokenExpiring(young.session.expiresAt!)
    expect(young.calls.length).toBe(0)
    const older = setup({ stored: stored({ obtainedAt: Date.now() - 600_000 }) })
    await older.session.onTokenExpiring(older.session.expiresAt!)
    expect(older.calls.length).toBe(1)
    // A warning about an older token than the one we hold needs nothing.
    await older.session.onTokenExpiring(Date.now() + 10_000)
    expect(older.calls.length).toBe(1)
  })

  test('follows other tabs through storage: refresh and sign-out', () => {
    const { session, storage, changes } = setup({ stored: stored() })
    storage.setItem(SESSION_KEY, JSON.stringify(stored({ accessToken: jwt(900, 'x') })))
    session.syncFromStorage()
    expect(session.accessToken).toBe(jwt(900, 'x'))
    storage.removeItem(SESSION_KEY)
    session.syncFromStorage()
    expect(session.session).toBeUndefined()
    expect(changes.map((c) => c.kind)).toEqual(['token', 'signed-out'])
  })

  test('a session that ended in another tab (revoked, expired) is reported as ended in this one too', () => {
    const storage = new MemoryStorage()
    storage.setItem(SESSION_KEY, JSON.stringify(stored()))
    const fetch = async () => Response.json({})
    const [a, b] = [
      new SessionManager({ storage, fetch, shared: null }),
      new SessionManager({ storage, fetch, shared: null }),
    ]
    managers.push(a, b)
    const seen: SessionChange[] = []
    b.onChange((c) => seen.push(c))
    a.clear('expired')
    b.syncFromStorage()
    expect(seen).toEqual([{ kind: 'signed-out', reason: 'expired' }])
    // A plain sign-out stays a sign-out.
    storage.setItem(SESSION_KEY, JSON.stringify(stored()))
    b.syncFromStorage()
    a.syncFromStorage()
    a.clear('logout')
    b.syncFromStorage()
    expect(seen.at(-1)).toEqual({ kind: 'signed-out', reason: 'logout' })
  })
})
