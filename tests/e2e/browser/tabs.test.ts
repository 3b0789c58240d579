/**
 * Two tabs never sign each other out (issue 13 item 6). Reuse detection is strict — a spent
 * refresh token presented again ends its whole family at once — so the tabs of one browser must
 * never present one refresh token twice: they agree on who refreshes (Web Locks) and share the
 * result (localStorage). Three tabs, 5 s access tokens, a chat streaming in each through several
 * refreshes: nobody is signed out, every refresh token is presented once, no event is lost.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { BrowserContext, Page } from 'playwright-core'
import { chromiumPath, signedInPage, useBrowserStack } from '../../support/browser'
import { lastAnswerText, sendMessage, waitForRunEnd, waitForSocket } from '../../support/chat-page'
import { lastUserText } from '../../support/chat-stack'

setDefaultTimeout(120_000) // three tabs of a real browser streaming on a busy 2-core machine

/** The scripted answer to "tab N": long enough (~10 s streamed) for several 5 s token lives. */
const answerTo = (question: string) =>
  `Answer to ${question}: ` + Array.from({ length: 180 }, (_, i) => `w${i}`).join(' ') + '.'

describe.skipIf(!chromiumPath)('browser: three tabs, short-lived tokens', () => {
  const { server, browser } = useBrowserStack({
    ollama: {
      handler: (req) => ({ content: answerTo(lastUserText(req.messages)), chunkSize: 4, chunkDelayMs: 40 }),
    },
    env: { ACCESS_TOKEN_TTL: '5', OLLAMA_SLOTS: '3' },
  })

  // Web Locks exist only in secure contexts; a server opened as http://192.168.x.y has none, and
  // the tabs must agree all the same (the second case hides them as such an origin would).
  test.each([
    ['with Web Locks', false],
    ['without Web Locks (a plain-http LAN address)', true],
  ])(
    '%s: every tab streams its chat to the end through several refreshes; no refresh token is presented twice',
    async (_, hideWebLocks) => {
      // Hidden before the first page loads (a reload mid-refresh could lose a just-rotated token).
      const hide = (context: BrowserContext) =>
        context.addInitScript(() => Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined }))
      const first = await signedInPage(browser, server, 'tabs', hideWebLocks ? { init: hide } : {})
      expect(await first.page.evaluate(() => !!navigator.locks)).toBe(!hideWebLocks)
      const pages: Page[] = [first.page, await first.context.newPage(), await first.context.newPage()]
      const presented: string[] = []
      const refreshStatuses: number[] = []
      const signOuts: string[] = []
      for (const [i, page] of pages.entries()) {
        page.on('request', (request) => {
          if (request.url().endsWith('/api/auth/refresh'))
            presented.push(JSON.parse(request.postData() ?? '{}').refreshToken)
        })
        page.on('response', (response) => {
          if (response.url().endsWith('/api/auth/refresh')) refreshStatuses.push(response.status())
        })
        if (i > 0) await page.goto('/')
      }
      for (const page of pages) await waitForSocket(page)
      for (const [i, page] of pages.entries()) {
        // A tab that shows the sign-in form was signed out: recorded, and the test fails below.
        await page.exposeFunction('__signedOut', () => signOuts.push(`tab ${i + 1}`))
        await page.evaluate(() => {
          new MutationObserver(() => {
            if (document.querySelector('#auth-heading')) (window as any).__signedOut()
          }).observe(document.body, { childList: true, subtree: true })
        })
      }

      await Promise.all(pages.map((page, i) => sendMessage(page, `tab ${i + 1}`)))
      const statuses = await Promise.all(pages.map((page) => waitForRunEnd(page, 90_000)))
      expect(statuses).toEqual(['completed', 'completed', 'completed'])
      // No event lost: each tab shows its whole answer, exactly.
      for (const [i, page] of pages.entries()) expect(await lastAnswerText(page)).toBe(answerTo(`tab ${i + 1}`))

      // Several refreshes happened while streaming, each with a refresh token no one presented before.
      expect(presented.length).toBeGreaterThanOrEqual(2)
      expect(new Set(presented).size).toBe(presented.length)
      expect(refreshStatuses.every((s) => s === 200)).toBe(true)
      expect(signOuts).toEqual([])
      // Every tab is still signed in with the one shared, working session.
      for (const page of pages) await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 5_000 })
      const stored = await pages[0].evaluate(() => JSON.parse(localStorage.getItem('chat-session')!))
      expect((await server.api('/api/threads', { token: stored.accessToken })).status).toBe(200)
      expect(first.errors).toEqual([])
      await first.context.close()
    },
  )
})
