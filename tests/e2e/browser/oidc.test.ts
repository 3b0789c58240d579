/** Single sign-on in a real browser against a real OpenID provider (oidc-provider) on loopback. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { Browser, Page } from 'playwright-core'
import { chromiumPath, launchBrowser, openPage } from '../../support/browser'
import { startOidcProvider, startOidcTestServer, type TestOidcProvider } from '../../support/oidc-provider'
import type { TestServer } from '../../support/server'

setDefaultTimeout(60_000) // a real browser and a real provider on a busy 2-core machine

let idp: TestOidcProvider
let server: TestServer
let browser: Browser

/** The provider's own pages: its login form (any password), then its consent prompt. */
async function signInAtProvider(page: Page, login: string, consent: 'continue' | 'cancel' = 'continue') {
  await page.locator('input[name="login"]').fill(login)
  await page.locator('input[name="password"]').fill('any password')
  await page.locator('button[type="submit"]').first().click()
  if (consent === 'cancel') {
    await page.getByRole('link', { name: /cancel/i }).click()
    return
  }
  await page.locator('button[type="submit"]').first().click() // "Continue" on the consent prompt
}

describe.skipIf(!chromiumPath)('browser: sign in with SSO', () => {
  beforeAll(async () => {
    idp = await startOidcProvider()
    server = await startOidcTestServer(idp)
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
    await idp?.close()
  })

  test('the SSO button goes through the provider and lands signed in, with a session that works', async () => {
    const { page, context, errors } = await openPage(browser, server.url)
    await page
      .getByRole('button', { name: /sign in with sso/i })
      .or(page.getByRole('link', { name: /sign in with sso/i }))
      .first()
      .click()
    await page.waitForURL((url) => url.origin === new URL(idp.issuer).origin)
    await signInAtProvider(page, 'alice')
    await page.waitForURL((url) => url.origin === new URL(server.url).origin && !url.pathname.startsWith('/api/'))
    await page.getByRole('button', { name: 'Sign out' }).waitFor()
    await expect(page.locator('.account-email').textContent()).resolves.toBe('alice@idp.example.test')

    const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('chat-session') ?? 'null'))
    const me = await server.api('/api/me', { token: stored.accessToken })
    expect(me.status).toBe(200)
    expect(((await me.json()) as any).user.email).toBe('alice@idp.example.test')
    expect(errors).toEqual([])
    await context.close()
  })

  test('a password account links SSO from its own session ("Link SSO"); SSO then signs in to that account', async () => {
    const password = `pw-${crypto.randomUUID()}`
    const email = `linker-${crypto.randomUUID().slice(0, 8)}@example.test`
    const registered = (await (
      await server.api('/api/auth/register', { body: { email, password, name: 'Linker' } })
    ).json()) as any
    idp.accounts.set('browser-linker', {
      sub: 'browser-linker',
      email: `someone-else-${crypto.randomUUID().slice(0, 8)}@idp.example.test`,
      email_verified: true,
      name: 'Linker at IdP',
    })
    const { page, context, errors } = await openPage(browser, server.url)
    await page.getByLabel('Email').fill(email)
    await page.getByLabel('Password').fill(password)
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await page.getByRole('button', { name: 'Link SSO' }).click()
    await page.waitForURL((url) => url.origin === new URL(idp.issuer).origin)
    await signInAtProvider(page, 'browser-linker')
    await page.waitForURL((url) => url.origin === new URL(server.url).origin && !url.pathname.startsWith('/api/'))
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('heading', { name: 'Sign in' }).waitFor()

    // Signing in with SSO now lands in the password account. The provider may remember this
    // browser and send it straight back, or ask again.
    await page.getByRole('link', { name: /sign in with sso/i }).click()
    const signedIn = page.getByRole('button', { name: 'Sign out' })
    await signedIn.or(page.locator('input[name="login"]')).first().waitFor()
    if (!(await signedIn.isVisible())) await signInAtProvider(page, 'browser-linker')
    await signedIn.waitFor()
    await expect(page.locator('.account-email').textContent()).resolves.toBe(email)
    const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('chat-session') ?? 'null'))
    expect(stored.user.id).toBe(registered.user.id)
    expect(errors).toEqual([])
    await context.close()
  })

  test('denied consent ends on a clear page with a way back, not a crash', async () => {
    const { page, context } = await openPage(browser, server.url)
    await page.goto('/api/auth/oidc/login')
    await page.waitForURL((url) => url.origin === new URL(idp.issuer).origin)
    await signInAtProvider(page, 'bob', 'cancel')
    await page.waitForURL((url) => url.pathname === '/api/auth/oidc/callback')
    const text = (await page.locator('body').textContent()) ?? ''
    expect(text).toMatch(/denied|cancel/i)
    expect(text).not.toMatch(/\bat .+:\d+:\d+/) // no stack trace
    await expect(page.locator('a[href="/"]').count()).resolves.toBeGreaterThan(0)
    expect(await page.evaluate(() => localStorage.getItem('chat-session'))).toBeNull()
    await context.close()
  })

  test('a callback with a forged state is refused with a clear page', async () => {
    const { page, context } = await openPage(browser, server.url, {
      path: '/api/auth/oidc/callback?code=forged&state=forged',
    })
    const response = await page.reload()
    expect(response?.status()).toBeGreaterThanOrEqual(400)
    expect(response?.status()).toBeLessThan(500)
    const text = (await page.locator('body').textContent()) ?? ''
    expect(text.length).toBeGreaterThan(0)
    expect(text).not.toMatch(/\bat .+:\d+:\d+/)
    expect(await page.evaluate(() => localStorage.getItem('chat-session'))).toBeNull()
    await context.close()
  })
})
