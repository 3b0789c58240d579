/** A fresh server's first page offers "Create the admin account", and that account is the admin. */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { chromiumPath, openPage, useBrowserStack } from '../../support/browser'

setDefaultTimeout(60_000)

const { server, browser } = useBrowserStack()

describe.skipIf(!chromiumPath)('browser: first run', () => {
  test('no account yet: the page offers to create the admin account', async () => {
    const { page, context, errors } = await openPage(browser, server.url)
    await page.getByRole('heading', { name: 'Create the admin account' }).waitFor()
    expect(await page.getByRole('button', { name: 'Create one' }).isVisible()).toBe(false)
    await page.getByLabel('Email').fill('owner@example.test')
    await page.getByLabel('Password').fill(`pw-${crypto.randomUUID()}`)
    await page.getByRole('button', { name: 'Create the admin account' }).click()
    await page.getByRole('button', { name: 'Sign out' }).waitFor()
    const session = await page.evaluate(() => JSON.parse(localStorage.getItem('chat-session')!))
    expect(session.user.role).toBe('admin')

    // Once someone exists, the sign-in page is the ordinary one.
    const later = await openPage(browser, server.url)
    await later.page.locator('.auth-card[data-setup="ready"]').waitFor()
    await later.page.getByRole('heading', { name: 'Sign in' }).waitFor()
    expect(errors).toEqual([])
    await later.context.close()
    await context.close()
  })
})
