/**
 * With the model down the chat says so before anyone sends (a banner from /api/models, the
 * operator's hint behind Details), and a run that fails says it once, in plain words.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { chromiumPath, signedInPage, useBrowserStack } from '../../support/browser'
import { sendMessage, waitForRunEnd, waitForSocket } from '../../support/chat-page'

setDefaultTimeout(60_000)

// OLLAMA_HOST points at a port nothing listens on.
const { server, browser } = useBrowserStack()

describe.skipIf(!chromiumPath)('browser: model down', () => {
  test('a banner before sending; one plain failure per run with the hint behind Details', async () => {
    const { page, context } = await signedInPage(browser, server, 'unlucky')
    const banner = page.locator('.model-banner')
    await banner.waitFor()
    expect(await banner.locator('.model-banner-text').textContent()).toContain('not reachable right now')
    expect(await banner.locator('.model-banner-hint').isVisible()).toBe(false)
    await banner.locator('summary', { hasText: 'Details' }).click()
    expect(await banner.locator('.model-banner-hint').textContent()).toMatch(/ollama/i)

    await waitForSocket(page)
    await sendMessage(page, 'hello?')
    expect(await waitForRunEnd(page)).toBe('failed')
    const turn = page.locator('.turn-assistant').last()
    expect(await turn.locator('.failure-text').allTextContents()).toEqual([
      'Failed: The AI model is not reachable right now. Try again in a moment.',
    ])
    // The operator's text is there once, folded; it is not repeated as the answer.
    expect(await turn.locator('.answer').count()).toBe(0)
    expect(await turn.locator('.failure-details p').isVisible()).toBe(false)
    await page.reload()
    await page.locator('.turn-assistant[data-status="failed"] .failure-text').waitFor()
    expect(await page.locator('.turn-assistant .failure-text').count()).toBe(1)
    await page.getByRole('button', { name: 'Retry' }).waitFor()
    await context.close()
  })
})
