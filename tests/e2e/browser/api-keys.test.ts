/** Settings → API keys in the browser: create (secret shown once, copyable), list, revoke. */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { Page } from 'playwright-core'
import { chromiumPath, openFromNav, signedInChat, signedInPage, useBrowserStack } from '../../support/browser'
import { lastAnswerText } from '../../support/chat-page'
import { lastUserText } from '../../support/chat-stack'

setDefaultTimeout(60_000)

const { server, browser } = useBrowserStack()

/** Controls without an accessible name (as in a11y.test.ts), so the page works with a screen reader. */
const unnamedControls = (page: Page) =>
  page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('button, a[href], input, select, textarea')]
      .filter(
        (el) =>
          !el.closest('[hidden]') &&
          !(
            (el as HTMLInputElement).labels?.length ||
            el.getAttribute('aria-label') ||
            el.textContent?.trim() ||
            el.getAttribute('title')
          ),
      )
      .map((el) => el.outerHTML.slice(0, 120)),
  )

/** The status of an MCP tools/list call with this key (200 when the key works; no model needed). */
const keyStatus = async (secret: string) =>
  (
    await server.api('/mcp', {
      token: secret,
      body: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      headers: { accept: 'application/json, text/event-stream' },
    })
  ).status

describe.skipIf(!chromiumPath)('browser: Settings → API keys', () => {
  test('create a key: the secret is shown once and copies and works; it is listed without the secret; revoke ends it', async () => {
    const { page, context, user, errors } = await signedInPage(browser, server, 'keyholder')
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url })
    await openFromNav(page, 'API keys')
    await page.getByText('No API keys yet.').waitFor()

    await page.getByLabel('Name').fill('home assistant')
    await page.getByLabel('Expires').selectOption('30')
    await page.getByRole('button', { name: 'Create key' }).click()

    const secretField = page.getByLabel('Secret key')
    await secretField.waitFor()
    const secret = await secretField.inputValue()
    expect(secret).toMatch(/^lcs_[A-Za-z0-9_-]{40,}$/)
    expect(await unnamedControls(page)).toEqual([])
    await page.getByRole('button', { name: 'Copy' }).click()
    await page.getByText('Copied.').waitFor()
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret)

    // The copied secret is a working key.
    expect(await keyStatus(secret)).toBe(200)

    // Listed by name and prefix, with its expiry; never the secret.
    const item = page.locator('.key-item', { hasText: 'home assistant' })
    await item.waitFor()
    expect(await item.locator('.key-prefix').textContent()).toBe(`${secret.slice(0, 12)}…`)
    const listed = (await (await server.api('/api/keys', { token: user.accessToken })).json()) as any
    expect(listed.keys).toHaveLength(1)
    expect(listed.keys[0].expiresAt).not.toBeNull()

    // Shown once: after leaving and coming back, the secret is nowhere on the page.
    await openFromNav(page, 'Notes')
    await page.goBack()
    await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor()
    await page.locator('.key-item', { hasText: 'home assistant' }).waitFor()
    expect(await page.getByLabel('Secret key').count()).toBe(0)
    expect(await page.content()).not.toContain(secret)
    // Its use shows up as "last used" on a fresh load.
    await page.reload()
    await page.locator('.key-item', { hasText: 'home assistant' }).locator('.key-last-used time').waitFor()

    // A second key, then revoke the first one (asked first).
    await page.getByLabel('Name').fill('editor')
    await page.getByRole('button', { name: 'Create key' }).click()
    await page.locator('.key-item', { hasText: 'editor' }).waitFor()
    expect(await page.locator('.key-item').count()).toBe(2)

    await page.getByRole('button', { name: 'Revoke key “home assistant”' }).click()
    await page.getByRole('button', { name: 'Cancel' }).click()
    expect(await page.locator('.key-item').count()).toBe(2)
    expect(await keyStatus(secret)).toBe(200)

    await page.getByRole('button', { name: 'Revoke key “home assistant”' }).click()
    expect(await unnamedControls(page)).toEqual([])
    await page.getByRole('button', { name: 'Revoke now' }).click()
    await page.waitForFunction(() => document.querySelectorAll('.key-item').length === 1)
    expect(await page.locator('.key-item .key-name').allTextContents()).toEqual(['editor'])
    expect(await keyStatus(secret)).toBe(401)
    expect(errors).toEqual([])
    await context.close()
  })
})

describe.skipIf(!chromiumPath)('browser: a /v1 call shows in the user’s open UI', () => {
  const { server: live, browser: chrome } = useBrowserStack({
    ollama: {
      handler: (req) => ({ content: `from the API: ${lastUserText(req.messages)}`, chunkSize: 4, chunkDelayMs: 2 }),
    },
  })

  test('the new thread appears in the sidebar while the tab is open, and holds the answer', async () => {
    const { page, context, user, errors } = await signedInChat(chrome, live, 'watcher')
    const { secret } = (await (
      await live.api('/api/keys', { token: user.accessToken, body: { name: 'script' } })
    ).json()) as any
    const res = await live.api('/v1/chat/completions', {
      token: secret,
      body: { model: 'agent:triage', messages: [{ role: 'user', content: 'water the tomatoes at six' }] },
    })
    expect(res.status).toBe(200)
    const link = page.locator('.thread-link', { hasText: 'water the tomatoes at six' })
    await link.waitFor() // no reload: the socket's agent_started made the list refresh
    await link.click()
    await page.locator('.turn-assistant').first().waitFor()
    expect(await lastAnswerText(page)).toBe('from the API: water the tomatoes at six')
    expect(errors).toEqual([])
    await context.close()
  })
})
