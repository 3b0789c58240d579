/** Sign up, sign in, sign out and the SSO button, through the real UI. */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { chromiumPath, openPage, signedInPage, signUpViaUi, useBrowserStack } from '../../support/browser'
import { waitForSocket } from '../../support/chat-page'
import { registerUser } from '../../support/users'

setDefaultTimeout(60_000) // a real browser on a busy 2-core machine

const { server, browser } = useBrowserStack()

describe.skipIf(!chromiumPath)('browser: accounts', () => {
  test('sign up lands in the app and keeps the session across a reload', async () => {
    const { page, context, errors } = await openPage(browser, server.url)
    const { email } = await signUpViaUi(page, 'newcomer')
    await expect(page.locator('.account-email').textContent()).resolves.toBe(email)
    const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('chat-session') ?? 'null'))
    expect(stored.user.email).toBe(email)
    expect(typeof stored.accessToken).toBe('string')
    expect(typeof stored.refreshToken).toBe('string')
    expect(stored.expiresIn).toBeGreaterThan(0)
    expect(stored.obtainedAt).toBeGreaterThan(Date.now() - 60_000)
    await page.reload()
    await page.getByRole('button', { name: 'Sign out' }).waitFor()
    expect(errors).toEqual([])
    await context.close()
  })

  test('sign in: a wrong password is explained, the right one signs in; sign out revokes the session', async () => {
    const user = await registerUser(server, 'returning')
    const { page, context } = await openPage(browser, server.url)
    await page.getByLabel('Email').fill(user.email)
    await page.getByLabel('Password').fill('not-the-password')
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.locator('#auth-error', { hasText: 'Email or password is wrong' }).waitFor()
    await page.getByLabel('Password').fill(user.password)
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.getByRole('button', { name: 'Sign out' }).waitFor()
    const { refreshToken } = await page.evaluate(() => JSON.parse(localStorage.getItem('chat-session')!))

    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('heading', { name: 'Sign in' }).waitFor()
    expect(await page.evaluate(() => localStorage.getItem('chat-session'))).toBeNull()
    // The server revoked the refresh token.
    const res = await server.api('/api/auth/refresh', { body: { refreshToken } })
    expect(res.status).toBe(401)
    await context.close()
  })

  test('signing up with a weak password shows why it was refused, and a strong one then works', async () => {
    const { page, context } = await openPage(browser, server.url)
    await page.getByRole('button', { name: 'Create one' }).click()
    await page.getByLabel('Email').fill(`weakling-${crypto.randomUUID()}@example.test`)
    await page.getByLabel('Password').fill('password123')
    await page.getByRole('button', { name: 'Create account' }).click()
    await page.locator('#auth-error', { hasText: /too weak: .*(common|used)/i }).waitFor()
    await expect(page.evaluate(() => document.activeElement?.id)).resolves.toBe('auth-password')
    await page.getByLabel('Password').fill('quiet orbit lantern')
    await page.getByRole('button', { name: 'Create account' }).click()
    await page.getByRole('button', { name: 'Sign out' }).waitFor()
    await context.close()
  })

  test('signed out everywhere by an admin: every open tab goes to the sign-in form at once, saying why', async () => {
    const { page, context, user } = await signedInPage(browser, server, 'evicted')
    const second = await context.newPage()
    await second.goto('/')
    await waitForSocket(page)
    await waitForSocket(second)
    await server.services.sessions.endAll(user.id, 'session_revoked')
    for (const tab of [page, second]) {
      await tab.getByRole('heading', { name: 'Sign in' }).waitFor()
      await tab.getByText('Your session has ended').waitFor()
    }
    expect(await page.evaluate(() => localStorage.getItem('chat-session'))).toBeNull()
    await context.close()
  })

  test('signing up with a taken email says so', async () => {
    const user = await registerUser(server, 'taken')
    const { page, context } = await openPage(browser, server.url)
    await page.getByRole('button', { name: 'Create one' }).click()
    await page.getByLabel('Email').fill(user.email)
    await page.getByLabel('Password').fill('long-enough-password')
    await page.getByRole('button', { name: 'Create account' }).click()
    await page.locator('#auth-error', { hasText: 'already exists' }).waitFor()
    await context.close()
  })

  test('"Sign in with SSO" appears only when the server says OIDC is enabled', async () => {
    const plain = await openPage(browser, server.url)
    await plain.page.getByRole('heading', { name: 'Sign in' }).waitFor()
    await plain.page.waitForLoadState('networkidle')
    expect(await plain.page.getByRole('link', { name: 'Sign in with SSO' }).isVisible()).toBe(false)
    await plain.context.close()

    const context = await browser.newContext({ baseURL: server.url })
    await context.route('**/api/auth/oidc/config', (route) => route.fulfill({ json: { enabled: true } }))
    const page = await context.newPage()
    await page.goto('/')
    const sso = page.getByRole('link', { name: 'Sign in with SSO' })
    await sso.waitFor()
    expect(await sso.getAttribute('href')).toBe('/api/auth/oidc/login')
    await context.close()
  })

  test('a session written by the OIDC callback (localStorage chat-session) is picked up', async () => {
    const user = await registerUser(server, 'sso')
    const context = await browser.newContext({ baseURL: server.url })
    const page = await context.newPage()
    await page.goto('/')
    await page.evaluate((u) => {
      localStorage.setItem(
        'chat-session',
        JSON.stringify({
          user: { id: u.id, email: u.email, name: 'SSO person', role: 'member' },
          accessToken: u.accessToken,
          refreshToken: u.refreshToken,
          expiresIn: 900,
          obtainedAt: Date.now(),
        }),
      )
    }, user)
    await page.goto('/') // the callback redirects to /
    await page.reload()
    await page.getByRole('button', { name: 'Sign out' }).waitFor()
    await expect(page.locator('.account-name').textContent()).resolves.toBe('SSO person')
    await context.close()
  })

  test('the sign-in form works at phone width with the keyboard alone', async () => {
    const user = await registerUser(server, 'phone')
    const { page, context } = await openPage(browser, server.url, { phone: true })
    await page.getByLabel('Email').waitFor()
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('auth-email')
    await page.keyboard.type(user.email)
    await page.keyboard.press('Tab')
    await page.keyboard.type(user.password)
    await page.keyboard.press('Enter')
    await page.getByRole('button', { name: 'Show chats and pages' }).waitFor()
    // Nothing overflows the 375px viewport horizontally.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375)
    await context.close()
  })
})
