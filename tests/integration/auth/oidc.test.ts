import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startTestServer, type TestServer } from '../../support/server'
import { registerUser } from '../../support/users'
import { useStarted, useTestServer } from '../../support/fixtures'
import {
  CookieJar,
  authorizeAtProvider,
  finishSignIn,
  jarFetch,
  oidcSignIn,
  startOidcProvider,
  startOidcTestServer,
  startSignIn,
  type TestOidcProvider,
} from '../../support/oidc-provider'
import { oidcService, pendingLogins } from '../../../src/auth/oidc/service'

/** Nothing that looks like a stack trace, a file path or an exception name may reach a client. */
function expectNoStackTrace(body: string) {
  expect(body).not.toMatch(
    /\bat\s+\S+\s*\(|\.(ts|js):\d+|node_modules|\bstack\b|TypeError|ReferenceError|OperationProcessingError|ClientError/,
  )
}

async function expectJsonError(response: Response, status: number, code: string) {
  const text = await response.text()
  expectNoStackTrace(text)
  expect(response.status).toBe(status)
  expect(response.headers.get('content-type')).toContain('application/json')
  const body = JSON.parse(text)
  expect(body.error.code).toBe(code)
  expect(typeof body.error.message).toBe('string')
  expect(body.error.message.length).toBeGreaterThan(10)
  return body
}

async function expectHtmlError(response: Response, status: number, code: string) {
  const text = await response.text()
  expectNoStackTrace(text)
  expect(response.status).toBe(status)
  expect(response.headers.get('content-type')).toContain('text/html')
  expect(response.headers.get('cache-control')).toContain('no-store')
  expect(text).toContain('<a href="/">')
  expect(text).toContain(code)
  expect(text).not.toContain('<script')
  return text
}

/** The session the HTML landing page would store in localStorage. */
function sessionFromPage(html: string) {
  const match = /var s=(\{.*?\});\n/.exec(html)
  if (!match) throw new Error('no session in page')
  return JSON.parse(match[1])
}

let idp: TestOidcProvider
let server: TestServer

beforeAll(async () => {
  idp = await startOidcProvider({
    accounts: [
      { sub: 'alice', email: 'alice@idp.example.test', email_verified: true, name: 'Alice Example' },
      { sub: 'bob', email: 'bob@idp.example.test', email_verified: true, name: 'Bob Example' },
      {
        sub: 'evil',
        email: 'evil@idp.example.test',
        email_verified: true,
        name: '</script><script>alert(1)</script>"\'&',
      },
      { sub: 'linkme', email: 'linkme@example.test', email_verified: true, name: 'Link Me' },
      { sub: 'unverified', email: 'unverified@example.test', email_verified: false, name: 'Not Verified' },
      { sub: 'noemail', name: 'No Email' },
    ],
  })
  server = await startOidcTestServer(idp)
})

afterAll(async () => {
  await server?.close()
  await idp?.close()
})

describe('OIDC sign-in through a real provider', () => {
  test('config says enabled', async () => {
    const res = await server.api('/api/auth/oidc/config')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ enabled: true })
  })

  test('login redirects to the provider with PKCE S256, state, nonce and a binding cookie', async () => {
    const { authUrl, response, jar, state } = await startSignIn(server.url)
    const url = new URL(authUrl)
    expect(url.origin).toBe(idp.issuer)
    expect(url.searchParams.get('response_type')).toBe('code')
    expect(url.searchParams.get('client_id')).toBe(idp.clientId)
    expect(url.searchParams.get('scope')).toBe('openid email profile')
    expect(url.searchParams.get('code_challenge_method')).toBe('S256')
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(state).toMatch(/^[A-Za-z0-9_-]{20,}$/)
    expect(url.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{20,}$/)
    expect(url.searchParams.get('redirect_uri')).toBe(server.config.oidc!.redirectUri)
    // The verifier never leaves the server.
    expect(authUrl).not.toContain('code_verifier')
    const cookie = response.headers.get('set-cookie')!
    expect(cookie).toMatch(/HttpOnly/i)
    expect(cookie).toMatch(/SameSite=Lax/i)
    expect(cookie).toMatch(/Max-Age=600/)
    expect(cookie).toContain('Path=/api/auth/oidc')
    expect(cookie).not.toContain(state)
    expect(Object.keys(jar.all(server.url))).toHaveLength(1)
    expect(response.headers.get('cache-control')).toContain('no-store')
  })

  test('full sign-in (JSON client) ends with tokens that work on /api/me and /api/auth/refresh', async () => {
    const userinfoBefore = idp.requests.filter((r) => r.path === '/me').length
    const { response, started } = await oidcSignIn(server.url, { login: 'alice' })
    expect(response.status).toBe(200)
    // The ID token carried the claims: no userinfo round trip.
    expect(idp.requests.filter((r) => r.path === '/me').length).toBe(userinfoBefore)
    const body = (await response.json()) as any
    expect(Object.keys(body).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken', 'user'])
    expect(body.user).toMatchObject({ email: 'alice@idp.example.test', name: 'Alice Example' })
    expect(body.expiresIn).toBe(900)
    // The binding cookie is cleared.
    expect(response.headers.get('set-cookie')).toMatch(/Max-Age=0/)
    expect(started.jar.all(server.url)).toEqual({})

    const me = await server.api('/api/me', { token: body.accessToken })
    expect(me.status).toBe(200)
    expect(((await me.json()) as any).user).toEqual(body.user)

    const refreshed = await server.api('/api/auth/refresh', { body: { refreshToken: body.refreshToken } })
    expect(refreshed.status).toBe(200)
  })

  test('browser sign-in answers a page that stores the session and goes home, under a strict CSP', async () => {
    const { response } = await oidcSignIn(server.url, { login: 'alice', accept: 'html' })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toContain('text/html')
    expect(response.headers.get('cache-control')).toContain('no-store')
    expect(response.headers.get('referrer-policy')).toBe('no-referrer')
    const csp = response.headers.get('content-security-policy')!
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1]
    expect(nonce).toBeTruthy()
    expect(csp).toContain("default-src 'none'")
    expect(csp).not.toContain('unsafe-inline')
    const html = await response.text()
    expect(html).toContain(`<script nonce="${nonce}">`)
    expect(html.match(/<script/g)).toHaveLength(1)
    expect(html).toContain('localStorage.setItem("chat-session"')
    expect(html).toContain('s.obtainedAt=Date.now()')
    expect(html).toContain("location.replace('/')")
    const session = sessionFromPage(html)
    expect(Object.keys(session).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken', 'user'])
    const me = await server.api('/api/me', { token: session.accessToken })
    expect(me.status).toBe(200)
  })

  test('a browser Accept header listing both JSON and HTML gets the page', async () => {
    const started = await startSignIn(server.url)
    const callbackUrl = await authorizeAtProvider(started.authUrl, { login: 'alice' })
    const res = await jarFetch(started.jar, callbackUrl, { headers: { accept: 'application/json, text/html' } })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/html')
  })

  test('everything embedded in the page is escaped', async () => {
    const { response } = await oidcSignIn(server.url, { login: 'evil', accept: 'html' })
    expect(response.status).toBe(200)
    const html = await response.text()
    expect(html).not.toContain('<script>alert(1)')
    expect(html).not.toContain('</script><script>')
    expect(html.match(/<script/g)).toHaveLength(1)
    expect(html.match(/<\/script>/g)).toHaveLength(1)
    const session = sessionFromPage(html)
    expect(session.user.name).toBe('</script><script>alert(1)</script>"\'&')
  })

  test('the same subject twice maps to the same user; another subject to another user', async () => {
    const first = (await (await oidcSignIn(server.url, { login: 'bob' })).response.json()) as any
    const second = (await (await oidcSignIn(server.url, { login: 'bob' })).response.json()) as any
    const alice = (await (await oidcSignIn(server.url, { login: 'alice' })).response.json()) as any
    expect(second.user.id).toBe(first.user.id)
    expect(alice.user.id).not.toBe(first.user.id)
    // Even when the provider changes the email, the identity (iss, sub) decides.
    idp.accounts.get('bob')!.email = 'bob.renamed@idp.example.test'
    try {
      const third = (await (await oidcSignIn(server.url, { login: 'bob' })).response.json()) as any
      expect(third.user.id).toBe(first.user.id)
    } finally {
      idp.accounts.get('bob')!.email = 'bob@idp.example.test'
    }
  })

  test('an existing password account is never taken over by email', async () => {
    const existing = await registerUser(server, 'pw')
    idp.accounts.set('pw-holder', { sub: 'pw-holder', email: existing.email, email_verified: true, name: 'PW' })
    const { response } = await oidcSignIn(server.url, { login: 'pw-holder' })
    const body = await expectJsonError(response, 409, 'oidc_account_exists')
    expect(body.error.message).toMatch(/sign in with your password, then link/)
    const html = await (await oidcSignIn(server.url, { login: 'pw-holder', accept: 'html' })).response
    await expectHtmlError(html, 409, 'oidc_account_exists')
  })

  test('an ID token without email is refused with a clear reason', async () => {
    const { response } = await oidcSignIn(server.url, { login: 'noemail' })
    await expectJsonError(response, 400, 'oidc_email_missing')
  })

  test('denied consent and cancelled login answer a clear error page (browser) or envelope (JSON)', async () => {
    const consent = await oidcSignIn(server.url, { login: 'alice', deny: 'consent', accept: 'html' })
    expect(new URL(consent.callbackUrl).searchParams.get('error')).toBe('access_denied')
    const page = await expectHtmlError(consent.response, 401, 'oidc_access_denied')
    expect(page).toMatch(/cancelled or access was denied/)

    const login = await oidcSignIn(server.url, { login: 'alice', deny: 'login' })
    await expectJsonError(login.response, 401, 'oidc_access_denied')
    // The pending sign-in is gone and the cookie cleared.
    expect(server.services.oidc!.pending.get(login.started.state)).toBeUndefined()
    expect(login.started.jar.all(server.url)).toEqual({})
  })

  test('bad, unknown or missing state is a clear 400', async () => {
    const bogus = await server.api('/api/auth/oidc/callback?code=abc&state=not-a-real-state', {
      headers: { accept: 'application/json' },
    })
    await expectJsonError(bogus, 400, 'oidc_invalid_state')
    const none = await server.api('/api/auth/oidc/callback?code=abc', { headers: { accept: 'application/json' } })
    await expectJsonError(none, 400, 'oidc_invalid_state')
    const page = await fetch(
      `${server.url}/api/auth/oidc/callback?code=abc&state=%3Cscript%3Ealert(1)%3C%2Fscript%3E`,
      { headers: { accept: 'text/html' } },
    )
    const html = await expectHtmlError(page, 400, 'oidc_invalid_state')
    expect(html).not.toContain('alert(1)')
  })

  test('another provider error is reported by its code only, never echoing free text from the URL', async () => {
    const res = await fetch(
      `${server.url}/api/auth/oidc/callback?error=server_error&error_description=${encodeURIComponent('Call +1 555 0100 to unlock <b>now</b>')}&state=x`,
      { headers: { accept: 'text/html' } },
    )
    const html = await expectHtmlError(res, 400, 'oidc_provider_error')
    expect(html).toContain('server_error')
    expect(html).not.toContain('555')
  })

  test('a state whose pending sign-in expired is refused', async () => {
    const started = await startSignIn(server.url)
    const callbackUrl = await authorizeAtProvider(started.authUrl, { login: 'alice' })
    server.services.oidc!.pending.get(started.state)!.expiresAt = Date.now() - 1
    await expectJsonError(await finishSignIn(callbackUrl, started.jar), 400, 'oidc_invalid_state')
  })

  test('a callback URL used from another browser (no or wrong cookie) is refused; the right browser still finishes', async () => {
    const started = await startSignIn(server.url)
    const callbackUrl = await authorizeAtProvider(started.authUrl, { login: 'alice' })

    // Stolen URL, attacker's browser has no cookie.
    await expectJsonError(await finishSignIn(callbackUrl, new CookieJar()), 400, 'oidc_browser_mismatch')
    // Attacker forges a cookie of the right name: the binding secret doesn't match.
    const [name] = Object.keys(started.jar.all(server.url))
    const forged = await fetch(callbackUrl, {
      headers: { accept: 'application/json', cookie: `${name}=forged-value` },
      redirect: 'manual',
    })
    await expectJsonError(forged, 400, 'oidc_browser_mismatch')
    // Browser check happens before the code is exchanged, so the victim's own sign-in still works.
    const res = await finishSignIn(callbackUrl, started.jar)
    expect(res.status).toBe(200)
  })

  test('replaying a used callback URL fails, even with the original cookie', async () => {
    const started = await startSignIn(server.url)
    const callbackUrl = await authorizeAtProvider(started.authUrl, { login: 'alice' })
    const cookie = started.jar.header(callbackUrl)
    expect(cookie).not.toBe('')
    const first = await finishSignIn(callbackUrl, started.jar)
    expect(first.status).toBe(200)
    const replay = await fetch(callbackUrl, { headers: { accept: 'application/json', cookie }, redirect: 'manual' })
    await expectJsonError(replay, 400, 'oidc_invalid_state')
    const replayPage = await fetch(callbackUrl, { headers: { accept: 'text/html', cookie }, redirect: 'manual' })
    await expectHtmlError(replayPage, 400, 'oidc_invalid_state')
  })

  test('a nonce mismatch is refused', async () => {
    const { response } = await oidcSignIn(server.url, {
      login: 'alice',
      beforeCallback: ({ state }) => {
        // Test hook: the pending sign-in's nonce no longer matches the one in the ID token.
        server.services.oidc!.pending.get(state)!.nonce = 'tampered-nonce-value'
      },
    })
    await expectJsonError(response, 401, 'oidc_nonce_mismatch')
  })

  test('a wrong PKCE verifier is refused by the provider', async () => {
    const { response } = await oidcSignIn(server.url, {
      login: 'alice',
      beforeCallback: ({ state }) => {
        server.services.oidc!.pending.get(state)!.codeVerifier = 'x'.repeat(43)
      },
    })
    await expectJsonError(response, 401, 'oidc_code_exchange_failed')
  })

  test('a forged authorization code is refused', async () => {
    const started = await startSignIn(server.url)
    const callbackUrl = new URL(await authorizeAtProvider(started.authUrl, { login: 'alice' }))
    callbackUrl.searchParams.set('code', 'forged-code-value-forged-code-value-1234')
    const res = await finishSignIn(callbackUrl.href, started.jar, { accept: 'html' })
    await expectHtmlError(res, 401, 'oidc_code_exchange_failed')
  })
})

describe('OIDC linking rules', () => {
  const linking = useStarted('the linking server', () => startOidcTestServer(idp, { OIDC_LINK_BY_EMAIL: 'true' }))

  /** POST /api/auth/oidc/link as `token`, then through the provider as `login`; the callback's answer. */
  async function linkAs(token: string, login: string) {
    const jar = new CookieJar()
    const started = await jarFetch(jar, `${linking.url}/api/auth/oidc/link`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
    })
    expect(started.status).toBe(200)
    const { url } = (await started.json()) as { url: string }
    const callbackUrl = await authorizeAtProvider(url, { login })
    return finishSignIn(callbackUrl, jar)
  }

  test('even with OIDC_LINK_BY_EMAIL=true and a verified email, a password account registered first is not linked (no takeover)', async () => {
    // The attacker registers the victim's address before the victim ever uses SSO.
    const squatter = await registerUser(linking, 'squatter')
    idp.accounts.set('victim', {
      sub: 'victim',
      email: squatter.email.toUpperCase(),
      email_verified: true,
      name: 'Victim',
    })
    const { response } = await oidcSignIn(linking.url, { login: 'victim' })
    await expectJsonError(response, 409, 'oidc_account_exists')
    // Nothing was linked: the squatter's account does not gain the victim's identity.
    expect(await linking.services.repos.users.findByIdentity(idp.issuer, 'victim')).toBeUndefined()
    const again = await oidcSignIn(linking.url, { login: 'victim' })
    await expectJsonError(again.response, 409, 'oidc_account_exists')
  })

  test('a signed-in user links an identity to their own account; it then signs in to that account', async () => {
    const existing = await registerUser(linking, 'linked')
    idp.accounts.set('linker', {
      sub: 'linker',
      email: `other-${crypto.randomUUID()}@idp.example.test`,
      email_verified: true,
      name: 'Linker',
    })
    const linked = await linkAs(existing.accessToken, 'linker')
    expect(linked.status).toBe(200)
    expect(((await linked.json()) as any).user.id).toBe(existing.id)
    // The identity now maps to the account for good, and the password still works.
    const again = (await (await oidcSignIn(linking.url, { login: 'linker' })).response.json()) as any
    expect(again.user.id).toBe(existing.id)
    expect(
      (await linking.api('/api/auth/login', { body: { email: existing.email, password: existing.password } })).status,
    ).toBe(200)
  })

  test('linking needs a signed-in session, a verified email, and an identity no other account holds', async () => {
    await expectJsonError(await linking.api('/api/auth/oidc/link', { method: 'POST' }), 401, 'unauthorized')
    const [first, second] = [await registerUser(linking, 'l1'), await registerUser(linking, 'l2')]
    idp.accounts.set('unverified-claimer', {
      sub: 'unverified-claimer',
      email: first.email,
      email_verified: false,
      name: 'Claimer',
    })
    const unverified = await linkAs(first.accessToken, 'unverified-claimer')
    const body = await expectJsonError(unverified, 403, 'oidc_email_unverified')
    expect(body.error.message).toContain('verified')
    expect(await linking.services.repos.users.findByIdentity(idp.issuer, 'unverified-claimer')).toBeUndefined()

    idp.accounts.set('taken', {
      sub: 'taken',
      email: `taken-${crypto.randomUUID()}@idp.example.test`,
      email_verified: true,
      name: 'Taken',
    })
    expect((await linkAs(first.accessToken, 'taken')).status).toBe(200)
    await expectJsonError(await linkAs(second.accessToken, 'taken'), 409, 'oidc_identity_in_use')
    expect((await linking.services.repos.users.findByIdentity(idp.issuer, 'taken'))?.id).toBe(first.id)
  })

  test('a new identity with an unverified email still gets a new account of its own', async () => {
    const { response } = await oidcSignIn(linking.url, { login: 'unverified' })
    expect(response.status).toBe(200)
    expect(((await response.json()) as any).user.email).toBe('unverified@example.test')
  })
})

describe('OIDC and disabled accounts', () => {
  test('a disabled account cannot sign in through SSO (403 account_disabled); enabled again, it can', async () => {
    idp.accounts.set('to-disable', {
      sub: 'to-disable',
      email: `to-disable-${crypto.randomUUID().slice(0, 8)}@idp.example.test`,
      email_verified: true,
      name: 'To Disable',
    })
    const first = (await (await oidcSignIn(server.url, { login: 'to-disable' })).response.json()) as any
    await server.services.sessions.setDisabled(first.user.id, true)
    await expectJsonError((await oidcSignIn(server.url, { login: 'to-disable' })).response, 403, 'account_disabled')
    await server.services.sessions.setDisabled(first.user.id, false)
    const again = await oidcSignIn(server.url, { login: 'to-disable' })
    expect(again.response.status).toBe(200)
    expect(((await again.response.json()) as any).user.id).toBe(first.user.id)
  })
})

describe('OIDC with sign-up closed', () => {
  const closed = useStarted('the closed server', () => startOidcTestServer(idp, { ALLOW_SIGNUP: 'false' }))

  test('the first user may still sign up through SSO; later new identities get a clear 403', async () => {
    const first = await oidcSignIn(closed.url, { login: 'alice' })
    expect(first.response.status).toBe(200)
    expect(((await first.response.json()) as any).user.role).toBe('admin')

    const second = await oidcSignIn(closed.url, { login: 'bob' })
    const body = await expectJsonError(second.response, 403, 'signup_closed')
    expect(body.error.message).toMatch(/sign-up is closed/)
    await expectHtmlError(
      (await oidcSignIn(closed.url, { login: 'bob', accept: 'html' })).response,
      403,
      'signup_closed',
    )

    // Known identities keep signing in.
    expect((await oidcSignIn(closed.url, { login: 'alice' })).response.status).toBe(200)
  })
})

describe('OIDC failures of the provider or its configuration', () => {
  test('a wrong client secret fails the code exchange with a clear 401', async () => {
    const wrong = await startOidcTestServer(idp, { OIDC_CLIENT_SECRET: 'not-the-secret' })
    try {
      const { response } = await oidcSignIn(wrong.url, { login: 'alice' })
      await expectJsonError(response, 401, 'oidc_code_exchange_failed')
    } finally {
      await wrong.close()
    }
  })

  test('provider down at login: 503 (envelope or page), no stack trace', async () => {
    const down = await startTestServer({
      OIDC_ISSUER: 'http://127.0.0.1:9',
      OIDC_CLIENT_ID: 'x',
      OIDC_CLIENT_SECRET: 'y',
      OIDC_REDIRECT_URI: 'http://127.0.0.1:1/api/auth/oidc/callback',
    })
    try {
      const json = await down.api('/api/auth/oidc/login', { headers: { accept: 'application/json' } })
      await expectJsonError(json, 503, 'oidc_unavailable')
      const page = await fetch(`${down.url}/api/auth/oidc/login`, { redirect: 'manual' })
      await expectHtmlError(page, 503, 'oidc_unavailable')
      expect(page.headers.get('set-cookie')).toBeNull()
    } finally {
      await down.close()
    }
  })

  test('provider down at the callback (token endpoint unreachable): 503', async () => {
    const ownIdp = await startOidcProvider()
    const own = await startOidcTestServer(ownIdp)
    try {
      const started = await startSignIn(own.url)
      const callbackUrl = await authorizeAtProvider(started.authUrl, { login: 'alice' })
      await ownIdp.close()
      await expectJsonError(await finishSignIn(callbackUrl, started.jar), 503, 'oidc_unavailable')
    } finally {
      await own.close()
      await ownIdp.close().catch(() => {})
    }
  })

  test('a provider that keeps email out of the ID token: the email comes from userinfo', async () => {
    const minimal = await startOidcProvider({ idTokenClaims: 'minimal' })
    const own = await startOidcTestServer(minimal)
    try {
      const { response } = await oidcSignIn(own.url, { login: 'alice' })
      expect(response.status).toBe(200)
      expect(minimal.requests.filter((r) => r.path === '/me')).toHaveLength(1)
      expect(((await response.json()) as any).user).toMatchObject({
        email: 'alice@idp.example.test',
        name: 'Alice Example',
      })
    } finally {
      await own.close()
      await minimal.close()
    }
  })

  test('discovery failures are not cached: the next sign-in retries', async () => {
    let calls = 0
    const flaky = ((input: any, init?: any) => {
      calls++
      if (calls === 1) return Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))
      return fetch(input, init)
    }) as typeof fetch
    const service = oidcService({
      config: { ...server.config.oidc!, linkByEmail: false },
      users: server.services.repos.users,
      auth: server.services.auth,
      allowSignup: true,
      fetch: flaky,
    })
    try {
      await expect(service.loginUrl()).rejects.toMatchObject({ status: 503, code: 'oidc_unavailable' })
      const ok = await service.loginUrl()
      expect(new URL(ok.url).origin).toBe(idp.issuer)
      await service.loginUrl()
      expect(calls).toBe(2) // discovered once, then cached
    } finally {
      service.close()
    }
  })
})

describe('OIDC not configured', () => {
  const { server: plain } = useTestServer()

  test('login and callback answer 404 oidc_not_configured; config says disabled', async () => {
    await expectJsonError(await plain.api('/api/auth/oidc/login'), 404, 'oidc_not_configured')
    await expectJsonError(await plain.api('/api/auth/oidc/callback?code=a&state=b'), 404, 'oidc_not_configured')
    const config = await plain.api('/api/auth/oidc/config')
    expect(config.status).toBe(200)
    expect(await config.json()).toEqual({ enabled: false })
  })
})

describe('pending sign-ins', () => {
  test('are capped: the oldest are dropped first', () => {
    const pending = pendingLogins({ max: 3 })
    for (const s of ['a', 'b', 'c', 'd']) pending.put(s, { codeVerifier: 'v', nonce: 'n', bindingHash: 'h' })
    expect(pending.size).toBe(3)
    expect(pending.get('a')).toBeUndefined()
    expect(pending.get('d')).toBeDefined()
    pending.close()
  })

  test('expire after their TTL', () => {
    let now = 1_000
    const pending = pendingLogins({ ttlMs: 600_000, now: () => now })
    pending.put('s', { codeVerifier: 'v', nonce: 'n', bindingHash: 'h' })
    now += 599_999
    expect(pending.get('s')).toBeDefined()
    now += 1
    expect(pending.get('s')).toBeUndefined()
    pending.close()
  })
})
