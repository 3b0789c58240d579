/**
 * Conversations in real Chromium against the real server, WebSocket and a scripted Ollama:
 * edit and resend, regenerate, switching versions, outcomes after a reload (Cancelled, Retry),
 * Copy, search and jump, export then import, share then open the link signed out, revoke → 404,
 * pin and archive.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { Browser, Page } from 'playwright-core'
import { chromiumPath, launchBrowser, openPage, sendMessage, signedInPage, waitForRunEnd, waitForSocket } from '../../support/browser'
import { lastUserText } from '../../support/chat-stack'
import { startFakeOllama, type FakeOllama } from '../../support/fake-ollama'
import { startTestServer, type TestServer } from '../../support/server'

setDefaultTimeout(90_000)

let server: TestServer
let fake: FakeOllama
let browser: Browser

/** Texts of the turns shown, in order ("user:…" / "assistant:…"). */
const shown = (page: Page) =>
  page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('.messages .turn')].map((t) =>
      t.classList.contains('turn-user') ? `user:${t.querySelector('.bubble')?.textContent?.trim()}` : `assistant:${[...t.querySelectorAll<HTMLElement>('.answer')].map((a) => a.innerText.trim()).join(' ')}`,
    ),
  )

async function chatOnce(page: Page, text: string) {
  await sendMessage(page, text)
  await page.locator('.turn-user .bubble', { hasText: text }).last().waitFor()
  await waitForRunEnd(page)
  // The turn gets its controls once the server has told its ids.
  await page.locator('.turn-assistant[data-message-id]').last().waitFor()
  await page.waitForFunction(() => [...document.querySelectorAll('.turn')].every((t) => t.hasAttribute('data-message-id')))
}

const threadIdOf = (page: Page) => decodeURIComponent(new URL(page.url()).hash.split('/')[2] ?? '')

describe.skipIf(!chromiumPath)('browser: conversations', () => {
  beforeAll(async () => {
    fake = await startFakeOllama()
    server = await startTestServer({ OLLAMA_HOST: fake.url })
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
    await fake?.close()
  })
  beforeEach(() => fake.setHandler((req) => ({ content: `echo: ${lastUserText(req.messages)}` })))

  test('edit and resend makes a second version; the switcher moves between them', async () => {
    const { page, context, errors } = await signedInPage(browser, server, 'editor')
    await waitForSocket(page)
    await chatOnce(page, 'first question')
    await chatOnce(page, 'second question')

    await page.locator('.turn-user', { hasText: 'second question' }).getByRole('button', { name: 'Edit message' }).click()
    const box = page.getByRole('textbox', { name: 'Edit your message' })
    await box.fill('second question, edited')
    await page.getByRole('button', { name: 'Save and send' }).click()
    await page.locator('.turn-assistant .answer', { hasText: 'echo: second question, edited' }).waitFor()
    await page.waitForFunction(() => [...document.querySelectorAll('.turn')].every((t) => t.hasAttribute('data-message-id')))
    expect(await shown(page)).toEqual(['user:first question', 'assistant:echo: first question', 'user:second question, edited', 'assistant:echo: second question, edited'])
    const switcher = page.locator('.turn-user', { hasText: 'second question, edited' }).getByRole('group', { name: 'Version 2 of 2' })
    await switcher.waitFor()

    // The model only saw the edited branch.
    const request = fake.requests.at(-1)!.messages.filter((m: any) => m.role !== 'system').map((m: any) => m.content)
    expect(request).toEqual(['first question', 'echo: first question', 'second question, edited'])

    await switcher.getByRole('button', { name: 'Previous version' }).click()
    await page.getByRole('group', { name: 'Version 1 of 2' }).waitFor()
    expect(await shown(page)).toEqual(['user:first question', 'assistant:echo: first question', 'user:second question', 'assistant:echo: second question'])
    await page.getByRole('button', { name: 'Next version' }).click()
    await page.getByRole('group', { name: 'Version 2 of 2' }).waitFor()
    expect((await shown(page)).at(-1)).toBe('assistant:echo: second question, edited')
    expect(errors).toEqual([])
    await context.close()
  })

  test('regenerate gives a new answer as another version; Copy copies the answer', async () => {
    const { page, context, errors } = await signedInPage(browser, server, 'regen')
    await context.grantPermissions(['clipboard-read', 'clipboard-write'])
    await waitForSocket(page)
    await chatOnce(page, 'tell me a fact')
    fake.setHandler(() => ({ content: 'a **different** fact' }))
    await page.getByRole('button', { name: 'Regenerate answer' }).click()
    await page.locator('.turn-assistant .answer', { hasText: 'a different fact' }).waitFor()
    await page.locator('.turn-assistant').getByRole('group', { name: 'Version 2 of 2' }).waitFor()
    expect(await shown(page)).toEqual(['user:tell me a fact', 'assistant:a different fact'])

    await page.getByRole('button', { name: 'Copy answer' }).click()
    await page.locator('.copy-btn[data-copied="true"]').waitFor()
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe('a **different** fact')

    await page.locator('.turn-assistant').getByRole('button', { name: 'Previous version' }).click()
    await page.locator('.turn-assistant').getByRole('group', { name: 'Version 1 of 2' }).waitFor()
    expect(await shown(page)).toEqual(['user:tell me a fact', 'assistant:echo: tell me a fact'])
    expect(errors).toEqual([])
    await context.close()
  })

  test('a stopped answer stays Cancelled after a reload, with its text and a Retry', async () => {
    const { page, context } = await signedInPage(browser, server, 'stopper')
    await waitForSocket(page)
    fake.setHandler(() => ({ hangAfter: 'partial words' }))
    await sendMessage(page, 'go slowly')
    await page.locator('.turn-assistant .answer', { hasText: 'partial words' }).waitFor()
    await page.getByRole('button', { name: 'Stop' }).click()
    await page.locator('.run-status', { hasText: 'Cancelled' }).waitFor()
    await page.reload()
    await page.locator('.turn-assistant[data-status="cancelled"] .run-status', { hasText: 'Cancelled' }).waitFor()
    expect(await page.locator('.turn-assistant .answer').innerText()).toBe('partial words')
    fake.setHandler(() => ({ content: 'the full answer' }))
    await waitForSocket(page)
    await page.getByRole('button', { name: 'Retry' }).click()
    await page.locator('.turn-assistant .answer', { hasText: 'the full answer' }).waitFor()
    await context.close()
  })

  test('code blocks are labelled with their language and have Copy', async () => {
    const { page, context } = await signedInPage(browser, server, 'coder')
    await waitForSocket(page)
    fake.setHandler(() => ({ content: 'Here:\n\n```python\nprint("hi")\n```\n' }))
    await chatOnce(page, 'code please')
    const block = page.locator('.code-block').last()
    expect(await block.locator('.code-lang').textContent()).toBe('python')
    await block.getByRole('button', { name: 'Copy python' }).waitFor()
    await context.close()
  })
})
