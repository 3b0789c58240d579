/**
 * Screenshots of the main views at desktop and phone sizes, for the README. They are written to
 * docs/screenshots/ with UPDATE_SCREENSHOTS=1, else to test-results/screenshots/ (so an ordinary
 * run leaves the work tree clean). The test checks each view reached the state it shows.
 */
import { beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from 'playwright-core'
import { chromiumPath, openPage, useBrowserStack } from '../../support/browser'
import { regenerateLast, sendMessage, waitForRunEnd, waitForSocket } from '../../support/chat-page'
import { createDemoBrain } from '../../support/demo-brain'

setDefaultTimeout(120_000)

const dir = join(
  import.meta.dir,
  '../../..',
  process.env.UPDATE_SCREENSHOTS ? 'docs/screenshots' : 'test-results/screenshots',
)

const { server, browser, ollama: fake } = useBrowserStack({ ollama: {} })

async function shot(page: Page, name: string) {
  await page.mouse.move(0, 0)
  const path = join(dir, `${name}.png`)
  await page.screenshot({ path })
  expect(statSync(path).size).toBeGreaterThan(5_000)
}

describe.skipIf(!chromiumPath)('browser: screenshots', () => {
  beforeAll(() => {
    mkdirSync(dir, { recursive: true })
  })

  test('first run, chat with steps and versions, search, share page — desktop and phone', async () => {
    const first = await openPage(browser, server.url)
    await first.page.getByRole('heading', { name: 'Create the admin account' }).waitFor()
    await shot(first.page, 'first-run-desktop')
    await first.context.close()

    const res = await server.api('/api/auth/register', {
      body: { email: 'ada@example.test', password: 'analytical-engine-1843', name: 'Ada' },
    })
    const ada = (await res.json()) as any
    const session = {
      user: ada.user,
      accessToken: ada.accessToken,
      refreshToken: ada.refreshToken,
      expiresIn: ada.expiresIn,
    }
    const csv =
      'region,product,amount\nNorth,Widget,1200\nSouth,Gadget,800\nNorth,Gizmo,600\nEast,Widget,400\nSouth,Widget,300\n'
    await server.api('/api/datasets', { token: ada.accessToken, body: { name: 'sales', csv } })
    for (const title of ['Trip to Lisbon', 'Quarterly report draft', 'Sourdough starter'])
      await server.api('/api/threads', { token: ada.accessToken, body: { title } })

    const { page, context } = await openPage(browser, server.url, { session })
    await page.setViewportSize({ width: 1280, height: 860 })
    await page.locator('.starters').waitFor()
    await shot(page, 'empty-chat-desktop')
    fake.setHandler(createDemoBrain({ chunkDelayMs: 1 }))
    await waitForSocket(page)
    await sendMessage(page, 'Which region sells most in my sales data?')
    expect(await waitForRunEnd(page)).toBe('completed')
    await regenerateLast(page)
    await page.waitForFunction(
      () => !!document.querySelector('.turn-assistant .run-status')?.textContent?.includes('Completed'),
    )
    await page.getByRole('button', { name: 'Pin “Quarterly report draft”' }).click()
    await page.waitForFunction(
      () => document.querySelector('.thread-item.pinned .thread-title')?.textContent === 'Quarterly report draft',
    )
    await shot(page, 'chat-desktop')

    await page.locator('.steps > summary').last().click()
    await shot(page, 'chat-steps-open-desktop')

    await page.keyboard.press('Control+k')
    await page.keyboard.type('region')
    await page.locator('.search-result').first().waitFor()
    await shot(page, 'search-desktop')
    await page.keyboard.press('Escape')

    await page.getByRole('button', { name: 'Share' }).click()
    const url = await page.getByRole('textbox', { name: 'Share link' }).inputValue()
    await shot(page, 'share-dialog-desktop')
    const pub = await openPage(browser, server.url, { path: new URL(url).pathname })
    await pub.page.setViewportSize({ width: 1280, height: 860 })
    await pub.page.locator('.share-assistant .answer').first().waitFor()
    await shot(pub.page, 'shared-page-desktop')
    await pub.context.close()
    const threadPath = new URL(page.url()).hash
    await context.close()

    const phone = await openPage(browser, server.url, { session, phone: true, path: `/${threadPath}` })
    await phone.page.locator('.turn-assistant[data-message-id]').first().waitFor()
    await shot(phone.page, 'chat-phone')
    await phone.page.getByRole('button', { name: 'Show chats and pages' }).click()
    await phone.page.locator('.sidebar.open').waitFor()
    // The drawer has finished sliding in.
    await phone.page.waitForFunction(() => document.querySelector('.sidebar')!.getBoundingClientRect().left >= 0)
    await shot(phone.page, 'sidebar-phone')
    await phone.context.close()
  })
})
