/**
 * "Never lose the answer": a dropped socket, a page reload, an access token expiring during a
 * long run, and a socket that cannot be used at all. In each case the rendered answer must be
 * exactly the scripted one — no token lost, none doubled.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { chromiumPath, signedInChat, signedInPage, useBrowserStack } from '../../support/browser'
import { askUntilPartial, lastAnswerText, sendMessage, waitForRunEnd, waitForSocket } from '../../support/chat-page'
import { useStarted } from '../../support/fixtures'
import { startTestServer } from '../../support/server'

setDefaultTimeout(90_000)

/**
 * Scripts the model to stream a long answer of distinct, numbered words (so a lost or doubled
 * token is obvious), `chunkSize` characters every `chunkDelayMs`; returns the answer.
 */
function scriptAnswer(words: number, chunkSize: number, chunkDelayMs: number) {
  const answer = Array.from({ length: words }, (_, i) => `w${i + 1}`).join(' ') + '.'
  fake.setHandler(() => ({ content: answer, chunkSize, chunkDelayMs }))
  return answer
}

// One Chromium and one scripted model for the file; a test server per describe block.
const { browser, ollama: fake } = useBrowserStack({ ollama: {}, server: false })

describe.skipIf(!chromiumPath)('browser: the answer survives', () => {
  const server = useStarted('the test server', () => startTestServer({ OLLAMA_HOST: fake.url }))

  test('going offline mid-run and back: reconnects, resumes, every token exactly once', async () => {
    const answer = scriptAnswer(220, 6, 20)
    const { page, context } = await signedInPage(browser, server, 'offline')
    let sockets = 0
    page.on('websocket', () => sockets++)
    await askUntilPartial(page, 'Count for me', 60)

    await context.setOffline(true)
    await page.waitForFunction(() => document.body.dataset.connection !== 'open')
    const during = (await lastAnswerText(page)).length
    await page.waitForTimeout(700) // the run keeps streaming on the server meanwhile
    await context.setOffline(false)

    expect(await waitForRunEnd(page, 30_000)).toBe('completed')
    expect(await lastAnswerText(page)).toBe(answer)
    expect(during).toBeLessThan(answer.length)
    expect(sockets).toBeGreaterThanOrEqual(1) // it really reconnected (the first socket predates the listener)
    await context.close()
  })

  test('a socket cut without warning (no offline event) reconnects and resumes exactly', async () => {
    const answer = scriptAnswer(220, 6, 12)
    const { page, context } = await signedInChat(browser, server, 'cut')
    // Proxy every new socket to the server, keeping a handle to cut it.
    const routes: import('playwright-core').WebSocketRoute[] = []
    await page.routeWebSocket(/\/ws$/, (ws) => {
      ws.connectToServer()
      routes.push(ws)
    })
    await page.reload()
    await askUntilPartial(page, 'Count through the cut', 60)
    await routes[0].close({ code: 4000, reason: 'cut by test' })
    expect(await waitForRunEnd(page, 30_000)).toBe('completed')
    expect(await lastAnswerText(page)).toBe(answer)
    expect(routes.length).toBeGreaterThanOrEqual(2)
    await context.close()
  })

  test('reloading the page mid-run resumes the same run', async () => {
    const answer = scriptAnswer(200, 6, 25)
    const { page, context } = await signedInPage(browser, server, 'reloader')
    await askUntilPartial(page, 'Count again', 60)
    await page.waitForURL(/#\/c\//)
    const runId = await page.locator('.turn-assistant[data-run-id]').last().getAttribute('data-run-id')

    await page.reload()
    // The answer continues in the same turn, under the one question.
    await page.locator(`.turn-assistant[data-run-id="${runId}"]`).waitFor({ timeout: 15_000 })
    expect(await waitForRunEnd(page, 30_000)).toBe('completed')
    expect(await lastAnswerText(page)).toBe(answer)
    expect(await page.locator('.turn-user').count()).toBe(1)
    expect(await page.locator('.turn-assistant').count()).toBe(1)
    await context.close()
  })

  test('when the WebSocket cannot be used, the run is followed over HTTP', async () => {
    const answer = scriptAnswer(400, 6, 15)
    const { page, context } = await signedInPage(browser, server, 'poller')
    await askUntilPartial(page, 'Count over HTTP', 30)

    // From now on every WebSocket is refused; then the current one drops.
    const polls: string[] = []
    page.on('request', (r) => {
      if (/\/api\/runs\/[^/]+\/events\?after=\d+/.test(r.url())) polls.push(r.url())
    })
    let refused = 0
    await page.routeWebSocket(/\/ws$/, (ws) => {
      refused++
      ws.close({ code: 1011, reason: 'refused by test' })
    })
    await page.evaluate(() => window.dispatchEvent(new Event('offline')))
    expect(await waitForRunEnd(page, 30_000)).toBe('completed')
    expect(await lastAnswerText(page)).toBe(answer)
    expect(refused).toBeGreaterThanOrEqual(2)
    expect(polls.length).toBeGreaterThanOrEqual(1)
    // Polls ask only for what is missing: `after` grows.
    const afters = polls.map((u) => Number(new URL(u).searchParams.get('after')))
    expect(afters[0]).toBeGreaterThan(0)
    await context.close()
  })
})

describe.skipIf(!chromiumPath)('browser: short-lived access tokens', () => {
  const server = useStarted('the test server', () => startTestServer({ OLLAMA_HOST: fake.url, ACCESS_TOKEN_TTL: '5' }))

  test('a token expiring during a long run is refreshed in-band; the run is not interrupted', async () => {
    const answer = scriptAnswer(240, 4, 35) // ~9 s: two token lives
    const { page, context } = await signedInPage(browser, server, 'longrun')
    await waitForSocket(page) // this first socket is not watched; the one after the reload is
    const sockets: { closed: boolean; auths: number }[] = []
    page.on('websocket', (ws) => {
      const info = { closed: false, auths: 0 }
      sockets.push(info)
      ws.on('framesent', (f) => {
        if (typeof f.payload === 'string' && f.payload.includes('"type":"auth"')) info.auths++
      })
      ws.on('close', () => (info.closed = true))
    })
    await page.reload()
    await waitForSocket(page)
    await sendMessage(page, 'A long one please')
    expect(await waitForRunEnd(page, 30_000)).toBe('completed')
    expect(await lastAnswerText(page)).toBe(answer)

    // One socket for the whole run, re-authenticated in-band several times.
    expect(sockets.length).toBe(1)
    expect(sockets[0].closed).toBe(false)
    expect(sockets[0].auths).toBeGreaterThanOrEqual(3) // the first, then a refresh every ~3 s
    // The session in storage is the refreshed one and still works.
    const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('chat-session')!))
    expect((await server.api('/api/threads', { token: stored.accessToken })).status).toBe(200)
    await context.close()
  })
})
