/**
 * Durable runs as a user sees them: the server process is killed with SIGKILL while the browser
 * shows an answer streaming, and restarted on the same port and data folder. The page
 * reconnects, resumes, and the same answer goes on to its end, every word exactly once.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { chromiumPath, signedInPage, useBrowserStack } from '../../support/browser'
import { askUntilPartial, lastAnswerText, waitForRunEnd } from '../../support/chat-page'
import { useChildServers } from '../../support/child-server'

setDefaultTimeout(90_000)

const SECRET = 'browser-crash-test-secret-that-is-long-enough-0123456789'
const ANSWER = Array.from({ length: 160 }, (_, i) => `w${i + 1}`).join(' ') + '.'

// Chromium and the scripted model for the file; the server is a child process the test kills.
const { browser, ollama: fake } = useBrowserStack({
  ollama: { handler: () => ({ content: ANSWER, chunkSize: 6, chunkDelayMs: 25 }) },
  server: false,
})
const start = useChildServers(() => ({ JWT_SECRET: SECRET, OLLAMA_HOST: fake.url }))

describe.skipIf(!chromiumPath)('browser: an answer survives kill -9 of the server', () => {
  test('the page reconnects to the restarted server and the answer streams on to its end, exactly once', async () => {
    let child = await start()
    const port = new URL(child.base).port
    const server = { url: child.base, api: child.api }
    try {
      const { page, context, errors } = await signedInPage(browser, server, 'crash')
      // Part of the answer is on screen.
      await askUntilPartial(page, 'Count for me', 60)

      child.proc.kill('SIGKILL')
      await child.proc.exited
      await page.waitForFunction(() => document.body.dataset.connection !== 'open', undefined, { timeout: 20_000 })
      const cutAt = (await lastAnswerText(page)).length
      expect(cutAt).toBeLessThan(ANSWER.length)

      // Same data folder, same port: the page's own reconnect finds it.
      child = await start({ PORT: port }, child.dir)
      expect(await waitForRunEnd(page, 60_000)).toBe('completed')
      // One answer block, the whole answer: nothing lost, nothing doubled, no seam.
      expect(await lastAnswerText(page)).toBe(ANSWER)
      expect(await page.locator('.turn-assistant[data-run-id] .answer').count()).toBe(1)
      expect(errors.filter((e) => !e.includes('WebSocket'))).toEqual([])
      await context.close()
    } finally {
      child.proc.kill('SIGTERM')
      await child.proc.exited
    }
  })
})
