/**
 * The chat page's actions for browser tests: wait for the socket, send a message, wait for the
 * run's end, read the answer. Pages come from tests/support/browser.ts (openPage, signedInPage).
 */
import type { Page } from 'playwright-core'
import type { TestServer } from './server'
import type { TestUser } from './users'

/** The socket is up (the UI shows no connection banner and the socket said `ready`). */
export async function waitForSocket(page: Page) {
  await page.waitForFunction(() => document.body.dataset.connection === 'open', undefined, { timeout: 10_000 })
}

/** Types a message into the composer and sends it with Enter. */
export async function sendMessage(page: Page, text: string) {
  const box = page.getByRole('textbox', { name: 'Message' })
  await box.fill(text)
  await box.press('Enter')
}

/**
 * Waits for the newest assistant turn to finish; returns its final status. With `after` (the
 * number of answers on the page before the message was sent), the answer waited for is a new
 * one, not the previous run's.
 */
export async function waitForRunEnd(page: Page, timeout = 15_000, after = 0): Promise<string> {
  const turn = page.locator('.turn-assistant[data-run-id]').last()
  await turn.waitFor({ timeout })
  await page.waitForFunction(
    (after) => {
      const turns = document.querySelectorAll<HTMLElement>('.turn-assistant[data-run-id]')
      return turns.length > after && !!turns[turns.length - 1].dataset.status
    },
    after,
    { timeout },
  )
  return (await turn.getAttribute('data-status')) ?? ''
}

/** Puts a small sales dataset in `user`'s account (through the API) and asks about it once the socket is up; returns the run's end status. */
export async function askAboutSales(
  page: Page,
  server: Pick<TestServer, 'api'>,
  user: Pick<TestUser, 'accessToken'>,
): Promise<string> {
  await server.api('/api/datasets', {
    token: user.accessToken,
    body: { name: 'sales', csv: 'region,amount\nNorth,5\nSouth,3\n' },
  })
  await waitForSocket(page)
  await sendMessage(page, 'Which region sells most in my sales data?')
  return waitForRunEnd(page)
}

/** Regenerates the newest answer (once it is stored) and waits until it shows as version 2 of 2. */
export async function regenerateLast(page: Page) {
  await page.locator('.turn-assistant[data-message-id]').waitFor()
  await page.getByRole('button', { name: 'Regenerate answer' }).click()
  await page.locator('.turn-assistant').getByRole('group', { name: 'Version 2 of 2' }).waitFor()
}

/** The streamed answer text of the newest assistant turn (all answer blocks joined). */
export async function lastAnswerText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const turns = document.querySelectorAll<HTMLElement>('.turn-assistant')
    const last = turns[turns.length - 1]
    if (!last) return ''
    return [...last.querySelectorAll<HTMLElement>('.answer')].map((a) => a.innerText.trim()).join('\n')
  })
}

/**
 * Waits until the newest answer shows at least `minChars` characters of text; with `unfinished`,
 * also that its run has not ended yet (the answer is caught mid-stream).
 */
export async function waitForAnswerChars(
  page: Page,
  minChars: number,
  opts: { unfinished?: boolean; timeout?: number } = {},
) {
  await page.waitForFunction(
    ({ minChars, unfinished }) => {
      const turns = document.querySelectorAll<HTMLElement>('.turn-assistant[data-run-id]')
      const last = turns[turns.length - 1]
      if (!last || (unfinished && last.dataset.status)) return false
      return (last.querySelector('.answer')?.textContent?.length ?? 0) >= minChars
    },
    { minChars, unfinished: opts.unfinished ?? false },
    { timeout: opts.timeout ?? 20_000 },
  )
}

/** Once the socket is up, sends `text` and waits until `minChars` of its answer are on screen. */
export async function askUntilPartial(page: Page, text: string, minChars: number) {
  await waitForSocket(page)
  await sendMessage(page, text)
  await waitForAnswerChars(page, minChars)
}
