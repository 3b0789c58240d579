/** The thread list: newest first, open, rename, delete (no WebSocket needed). */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { chromiumPath, useBrowserStack, signedInPage } from '../../support/browser'

setDefaultTimeout(60_000)

const { server, browser } = useBrowserStack()

async function createThread(token: string, title: string) {
  const res = await server.api('/api/threads', { token, body: { title } })
  expect(res.status).toBe(201)
  return ((await res.json()) as any).thread as { id: string; title: string }
}

const titles = (page: import('playwright-core').Page) => page.locator('.thread-item .thread-title').allTextContents()

describe.skipIf(!chromiumPath)('browser: threads', () => {
  test('lists the user’s threads newest first and opens one', async () => {
    const { page, context, user, errors } = await signedInPage(browser, server, 'lister')
    await page.locator('.thread-empty').waitFor()
    const first = await createThread(user.accessToken, 'First chat')
    await Bun.sleep(15)
    await createThread(user.accessToken, 'Second chat')
    await Bun.sleep(15)
    await createThread(user.accessToken, 'Third chat')
    await page.reload()
    await page.locator('.thread-item').nth(2).waitFor()
    expect(await titles(page)).toEqual(['Third chat', 'Second chat', 'First chat'])

    await page.getByRole('link', { name: /First chat/ }).click()
    await page.waitForURL(`**/#/c/${first.id}`)
    await page.getByRole('heading', { name: 'First chat' }).waitFor()
    expect(await page.locator(`.thread-item[data-thread-id="${first.id}"] a`).getAttribute('aria-current')).toBe('page')
    expect(errors).toEqual([])
    await context.close()
  })

  test('renames in place (Enter saves, Escape cancels)', async () => {
    const { page, context, user } = await signedInPage(browser, server, 'renamer')
    const thread = await createThread(user.accessToken, 'Old name')
    await page.reload()
    const item = page.locator(`.thread-item[data-thread-id="${thread.id}"]`)
    await item.waitFor()

    await page.getByRole('button', { name: 'Rename “Old name”' }).click()
    const input = page.getByRole('textbox', { name: 'New title for “Old name”' })
    await input.fill('Discarded')
    await input.press('Escape')
    await page.locator('.thread-title', { hasText: 'Old name' }).waitFor()

    await page.getByRole('button', { name: 'Rename “Old name”' }).click()
    await input.fill('Quarterly numbers')
    await input.press('Enter')
    await page.locator('.thread-title', { hasText: 'Quarterly numbers' }).waitFor()
    const saved = (await (await server.api(`/api/threads/${thread.id}`, { token: user.accessToken })).json()) as any
    expect(saved.thread.title).toBe('Quarterly numbers')
    // Focus returns to the rename button, not to the top of the page.
    expect(await page.evaluate(() => document.activeElement?.classList.contains('rename-btn'))).toBe(true)
    await context.close()
  })

  test('deletes after an in-page confirmation, and leaves the deleted chat', async () => {
    const { page, context, user } = await signedInPage(browser, server, 'deleter')
    const keep = await createThread(user.accessToken, 'Keep me')
    const doomed = await createThread(user.accessToken, 'Delete me')
    await page.goto(`${server.url}/#/c/${doomed.id}`)
    await page.getByRole('heading', { name: 'Delete me' }).waitFor()

    await page.getByRole('button', { name: 'Delete “Delete me”' }).click()
    await page.getByRole('button', { name: 'Cancel' }).click()
    expect(await titles(page)).toContain('Delete me')

    await page.getByRole('button', { name: 'Delete “Delete me”' }).click()
    await page.locator('.confirm-delete').click()
    await page.waitForFunction((id) => !document.querySelector(`.thread-item[data-thread-id="${id}"]`), doomed.id)
    await page.waitForURL((url) => url.hash === '#/')
    expect(await titles(page)).toEqual(['Keep me'])
    expect((await server.api(`/api/threads/${doomed.id}`, { token: user.accessToken })).status).toBe(404)
    expect((await server.api(`/api/threads/${keep.id}`, { token: user.accessToken })).status).toBe(200)
    await context.close()
  })

  test('"New chat" opens an empty chat ready for typing', async () => {
    const { page, context, user } = await signedInPage(browser, server, 'newchat')
    const thread = await createThread(user.accessToken, 'Existing')
    await page.goto(`${server.url}/#/c/${thread.id}`)
    await page.getByRole('heading', { name: 'Existing' }).waitFor()
    await page.getByRole('link', { name: 'New chat' }).click()
    await page.getByRole('heading', { name: 'New chat' }).waitFor()
    await page.getByText('How can I help?').waitFor()
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('prompt')
    await context.close()
  })

  test('a chat that does not exist (or is another user’s) says so', async () => {
    const other = await signedInPage(browser, server, 'owner')
    const secret = await createThread(other.user.accessToken, 'Private plans')
    await other.context.close()
    const { page, context } = await signedInPage(browser, server, 'snoop')
    await page.goto(`${server.url}/#/c/${secret.id}`)
    await page.getByRole('heading', { name: 'Chat not found' }).waitFor()
    expect(await page.content()).not.toContain('Private plans')
    await context.close()
  })

  test('at phone width the chat list is a drawer behind the menu button', async () => {
    const { page, context, user } = await signedInPage(browser, server, 'phoneuser', { phone: true })
    await createThread(user.accessToken, 'On the go')
    await page.reload()
    const menu = page.getByRole('button', { name: 'Show chats and pages' })
    await menu.waitFor()
    expect(await page.locator('#sidebar').isVisible()).toBe(false)
    await menu.click()
    expect(await menu.getAttribute('aria-expanded')).toBe('true')
    await page.getByRole('link', { name: /On the go/ }).click()
    await page.getByRole('heading', { name: 'On the go' }).waitFor()
    await page.waitForFunction(() => !document.querySelector('#sidebar')!.classList.contains('open'))
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375)
    // The composer is on screen and usable.
    const box = await page.getByRole('textbox', { name: 'Message' }).boundingBox()
    expect(box!.y + box!.height).toBeLessThanOrEqual(740)
    expect(box!.width).toBeGreaterThan(300)
    await context.close()
  })
})
