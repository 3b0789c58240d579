/**
 * axe-core (WCAG 2 A/AA rules) on every page of the UI, in real Chromium: sign-in, the first-run
 * page, a chat after a tool run with versions, search results, notes, datasets, the phone
 * layout, and the public share page (found and not found). Zero violations.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import type { Page } from 'playwright-core'
import { chromiumPath, openPage, signedInChat, signedInPage, useBrowserStack } from '../../support/browser'
import { askAboutSales, regenerateLast, sendMessage, waitForRunEnd } from '../../support/chat-page'
import { createDemoBrain } from '../../support/demo-brain'

setDefaultTimeout(90_000)

const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8')

const { server, browser, ollama: fake } = useBrowserStack({ ollama: {} })

/** Violations as "rule: target" lines (empty when the page passes). */
async function violations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol, so the page's CSP does not block it.
  await page.evaluate(AXE)
  const result: any = await page.evaluate(() =>
    (window as any).axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    }),
  )
  // axe really ran and checked something (an empty result would hide a broken setup).
  expect(result.passes.length).toBeGreaterThan(5)
  return result.violations.flatMap((v: any) => v.nodes.map((n: any) => `${v.id}: ${n.target.join(' ')}`))
}

describe.skipIf(!chromiumPath)('browser: axe-core', () => {
  test('sign-in page', async () => {
    const { page, context } = await openPage(browser, server.url)
    await page.getByLabel('Email').waitFor()
    expect(await violations(page)).toEqual([])
    await context.close()
  })

  for (const scheme of ['light', 'dark'] as const) {
    test(`chat after a tool run, with versions and search open (${scheme})`, async () => {
      fake.setHandler(createDemoBrain({ chunkDelayMs: 1 }))
      const { page, context, user } = await signedInPage(browser, server, `axe-${scheme}`)
      await page.emulateMedia({ colorScheme: scheme })
      expect(await askAboutSales(page, server, user)).toBe('completed')
      await regenerateLast(page)
      expect(await violations(page)).toEqual([])
      await page.locator('.steps > summary').first().click()
      await page.getByRole('button', { name: 'Share' }).click()
      await page.getByRole('textbox', { name: 'Share link' }).waitFor()
      expect(await violations(page)).toEqual([])
      await page.keyboard.press('Escape')
      await page.keyboard.press('Control+k')
      await page.keyboard.type('region')
      await page.locator('.search-result').first().waitFor()
      expect(await violations(page)).toEqual([])
      await context.close()
    })
  }

  test('notes, datasets and the phone layout', async () => {
    const { page, context } = await signedInPage(browser, server, 'axe-pages', { path: '/#/notes' })
    await page.getByLabel('Title').waitFor()
    expect(await violations(page)).toEqual([])
    await page.getByRole('link', { name: 'Datasets' }).click()
    await page.getByLabel('CSV file', { exact: true }).waitFor()
    expect(await violations(page)).toEqual([])
    await context.close()
    const phone = await signedInPage(browser, server, 'axe-phone', { phone: true })
    await phone.page.locator('.composer').waitFor()
    expect(await violations(phone.page)).toEqual([])
    await phone.context.close()
  })

  test('the public share page, and its not-found page', async () => {
    fake.setHandler(() => ({ content: 'A shared **answer** with `code`.' }))
    const { page, context, user } = await signedInChat(browser, server, 'axe-share')
    await sendMessage(page, 'share me')
    await waitForRunEnd(page)
    const threadId = decodeURIComponent(new URL(page.url()).hash.split('/')[2])
    const share = (
      (await (
        await server.api(`/api/threads/${threadId}/share`, { token: user.accessToken, method: 'POST' })
      ).json()) as any
    ).share
    const outsider = await openPage(browser, server.url, { path: new URL(share.url).pathname })
    await outsider.page.locator('.share-assistant .answer').waitFor()
    expect(await violations(outsider.page)).toEqual([])
    await outsider.page.goto('/s/unknown')
    expect(await violations(outsider.page)).toEqual([])
    await outsider.context.close()
    await context.close()
  })
})
