/**
 * Conversations in real Chromium against the real server, WebSocket and a scripted Ollama:
 * edit and resend, regenerate, switching versions, outcomes after a reload (Cancelled, Retry),
 * Copy, search and jump, export then import, share then open the link signed out, revoke → 404,
 * pin and archive.
 */
import { beforeEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { Page } from 'playwright-core'
import { chromiumPath, openPage, signedInChat, signedInPage, useBrowserStack } from '../../support/browser'
import { sendMessage, waitForRunEnd, waitForSocket } from '../../support/chat-page'
import { lastUserText } from '../../support/chat-stack'

setDefaultTimeout(90_000)

const { server, browser, ollama: fake } = useBrowserStack({ ollama: {} })

/** Texts of the turns shown, in order ("user:…" / "assistant:…"). */
const shown = (page: Page) =>
  page.evaluate(() =>
    [...document.querySelectorAll<HTMLElement>('.messages .turn')].map((t) =>
      t.classList.contains('turn-user')
        ? `user:${t.querySelector('.bubble')?.textContent?.trim()}`
        : `assistant:${[...t.querySelectorAll<HTMLElement>('.answer')].map((a) => a.innerText.trim()).join(' ')}`,
    ),
  )

async function chatOnce(page: Page, text: string) {
  await sendMessage(page, text)
  await page.locator('.turn-user .bubble', { hasText: text }).last().waitFor()
  await waitForRunEnd(page)
  // The turn gets its controls once the server has told its ids.
  await page.locator('.turn-assistant[data-message-id]').last().waitFor()
  await page.waitForFunction(() =>
    [...document.querySelectorAll('.turn')].every((t) => t.hasAttribute('data-message-id')),
  )
}

const threadIdOf = (page: Page) => decodeURIComponent(new URL(page.url()).hash.split('/')[2] ?? '')

describe.skipIf(!chromiumPath)('browser: conversations', () => {
  beforeEach(() => fake.setHandler((req) => ({ content: `echo: ${lastUserText(req.messages)}` })))

  test('edit and resend makes a second version; the switcher moves between them', async () => {
    const { page, context, errors } = await signedInChat(browser, server, 'editor')
    await chatOnce(page, 'first question')
    await chatOnce(page, 'second question')

    await page
      .locator('.turn-user', { hasText: 'second question' })
      .getByRole('button', { name: 'Edit message' })
      .click()
    const box = page.getByRole('textbox', { name: 'Edit your message' })
    await box.fill('second question, edited')
    await page.getByRole('button', { name: 'Save and send' }).click()
    await page.locator('.turn-assistant .answer', { hasText: 'echo: second question, edited' }).waitFor()
    await page.waitForFunction(() =>
      [...document.querySelectorAll('.turn')].every((t) => t.hasAttribute('data-message-id')),
    )
    expect(await shown(page)).toEqual([
      'user:first question',
      'assistant:echo: first question',
      'user:second question, edited',
      'assistant:echo: second question, edited',
    ])
    const switcher = page
      .locator('.turn-user', { hasText: 'second question, edited' })
      .getByRole('group', { name: 'Version 2 of 2' })
    await switcher.waitFor()

    // The model only saw the edited branch.
    const request = fake.requests
      .at(-1)!
      .messages.filter((m: any) => m.role !== 'system')
      .map((m: any) => m.content)
    expect(request).toEqual(['first question', 'echo: first question', 'second question, edited'])

    await switcher.getByRole('button', { name: 'Previous version' }).click()
    await page.getByRole('group', { name: 'Version 1 of 2' }).waitFor()
    expect(await shown(page)).toEqual([
      'user:first question',
      'assistant:echo: first question',
      'user:second question',
      'assistant:echo: second question',
    ])
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
    const { page, context } = await signedInChat(browser, server, 'stopper')
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
    const { page, context } = await signedInChat(browser, server, 'coder')
    fake.setHandler(() => ({ content: 'Here:\n\n```python\nprint("hi")\n```\n' }))
    await chatOnce(page, 'code please')
    const block = page.locator('.code-block').last()
    expect(await block.locator('.code-lang').textContent()).toBe('python')
    await block.getByRole('button', { name: 'Copy python' }).waitFor()
    await context.close()
  })

  test('search (Ctrl+K) finds a message and jumps to it in its thread and branch', async () => {
    const { page, context, user, errors } = await signedInChat(browser, server, 'searcher')
    await chatOnce(page, 'the walrus question')
    await chatOnce(page, 'something else entirely')
    const threadId = threadIdOf(page)
    // Edit the first question so the walrus one is on an older branch.
    await page
      .locator('.turn-user', { hasText: 'the walrus question' })
      .getByRole('button', { name: 'Edit message' })
      .click()
    await page.getByRole('textbox', { name: 'Edit your message' }).fill('a kinder question')
    await page.getByRole('button', { name: 'Save and send' }).click()
    await page.locator('.turn-assistant .answer', { hasText: 'echo: a kinder question' }).waitFor()
    await page.locator('.new-chat').click()
    // The new chat puts the focus in its composer once drawn; Ctrl+K must take it from there.
    await page.waitForFunction(() => document.activeElement?.id === 'prompt')

    await page.keyboard.press('Control+k')
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('search-input')
    await page.keyboard.type('walrus')
    const hit = page.locator('.search-result a[data-message-id]', { hasText: 'the walrus question' }).first()
    await hit.waitFor()
    expect(await hit.locator('mark').first().textContent()).toBe('walrus')
    await hit.click()
    await page.waitForURL(new RegExp(`#/c/${threadId}/`))
    await page.locator('.turn-user.jump-target', { hasText: 'the walrus question' }).waitFor()
    expect((await shown(page)).slice(0, 2)).toEqual(['user:the walrus question', 'assistant:echo: the walrus question'])
    expect(user.id).toBeTruthy()
    expect(errors).toEqual([])
    await context.close()
  })

  test('export as JSON, then import it back as a new chat with both versions', async () => {
    const { page, context } = await signedInChat(browser, server, 'exporter')
    await chatOnce(page, 'keep this')
    fake.setHandler(() => ({ content: 'second take' }))
    await page.getByRole('button', { name: 'Regenerate answer' }).click()
    await page.locator('.turn-assistant').getByRole('group', { name: 'Version 2 of 2' }).waitFor()
    const original = threadIdOf(page)

    await page.locator('.export-menu summary').click()
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'JSON (every version)' }).click(),
    ])
    expect(download.suggestedFilename()).toBe('keep-this.json')
    const text = await Bun.file((await download.path())!).text()
    expect(JSON.parse(text).messages.length).toBe(3)

    await page
      .locator('#import-file')
      .setInputFiles({ name: 'keep-this.json', mimeType: 'application/json', buffer: Buffer.from(text) })
    await page.waitForFunction((id) => !location.hash.includes(id) && location.hash.startsWith('#/c/'), original)
    await page.locator('.turn-assistant .answer', { hasText: 'second take' }).waitFor()
    await page.locator('.turn-assistant').getByRole('group', { name: 'Version 2 of 2' }).waitFor()
    expect(await page.locator('.chat-title').textContent()).toBe('keep this')
    // A bad file says why and adds nothing.
    await page
      .locator('#import-file')
      .setInputFiles({ name: 'bad.json', mimeType: 'application/json', buffer: Buffer.from('{"nope":1}') })
    await page.locator('.toast', { hasText: 'Could not import bad.json' }).waitFor()
    await context.close()
  })

  test('share, open the link signed out (no identity shown), then revoke: the link is a 404', async () => {
    const { page, context, user } = await signedInChat(browser, server, 'publisher')
    fake.setHandler(() => ({ content: 'Use **bold** and `code`.\n\n<img src=x onerror="window.__pwned=1">' }))
    await chatOnce(page, 'formatting tips')
    await page.getByRole('button', { name: 'Share' }).click()
    const url = await page.getByRole('textbox', { name: 'Share link' }).inputValue()
    expect(url).toMatch(new RegExp(`^${server.url}/s/[A-Za-z0-9_-]{22,}$`))

    const outsider = await openPage(browser, server.url, { path: new URL(url).pathname })
    await outsider.page.locator('.share-title', { hasText: 'formatting tips' }).waitFor()
    await outsider.page.locator('.share-assistant .answer strong', { hasText: 'bold' }).waitFor()
    const html = await outsider.page.content()
    for (const secret of [user.email, user.id, 'publisher']) expect(html).not.toContain(secret)
    expect(await outsider.page.evaluate(() => (window as any).__pwned)).toBeUndefined()
    expect(await outsider.page.evaluate(() => localStorage.getItem('chat-session'))).toBeNull()

    await page.getByRole('button', { name: 'Stop sharing' }).click()
    await page.getByText('The link no longer works.').waitFor()
    const gone = await outsider.page.goto(url)
    expect(gone?.status()).toBe(404)
    await outsider.context.close()
    await context.close()
  })

  test('pin moves a chat to the top; archive hides it until "Archived chats"', async () => {
    const { page, context, user } = await signedInPage(browser, server, 'organiser')
    for (const title of ['alpha', 'beta', 'gamma'])
      await server.api('/api/threads', { token: user.accessToken, body: { title } })
    await page.reload()
    const titles = () => page.locator('.thread-list .thread-title').allTextContents()
    await page.locator('.thread-item').nth(2).waitFor()
    expect(await titles()).toEqual(['gamma', 'beta', 'alpha'])
    await page.getByRole('button', { name: 'Pin “alpha”' }).click()
    await page.waitForFunction(() => document.querySelector('.thread-item .thread-title')?.textContent === 'alpha')
    expect(await titles()).toEqual(['alpha', 'gamma', 'beta'])
    await page.getByRole('button', { name: 'Archive “gamma”' }).click()
    await page.waitForFunction(() => document.querySelectorAll('.thread-item').length === 2)
    expect(await titles()).toEqual(['alpha', 'beta'])
    await page.getByRole('button', { name: 'Archived chats' }).click()
    await page.getByRole('heading', { name: 'Archived chats' }).waitFor()
    await page.waitForFunction(
      () => [...document.querySelectorAll('.thread-item .thread-title')].map((e) => e.textContent).join() === 'gamma',
    )
    await page.getByRole('button', { name: 'Unarchive “gamma”' }).click()
    await page.getByText('No archived chats').waitFor()
    await page.getByRole('button', { name: 'Back to chats' }).click()
    await page.waitForFunction(() => document.querySelectorAll('.thread-item').length === 3)

    // One Tab stop per row: Tab goes from one row's link to the next row's; arrows reach the actions.
    const focusedRow = () =>
      page.evaluate(
        () =>
          `${document.activeElement?.className}:${document.activeElement?.closest('.thread-item')?.querySelector('.thread-title')?.textContent}`,
      )
    await page.locator('.thread-link').first().focus()
    await page.keyboard.press('Tab')
    expect(await focusedRow()).toBe('thread-link:gamma')
    await page.keyboard.press('ArrowDown')
    expect(await focusedRow()).toBe('thread-link:beta')
    await page.keyboard.press('ArrowRight')
    expect(await page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Pin “beta”')
    await page.keyboard.press('ArrowLeft')
    await page.keyboard.press('ArrowUp')
    expect(await focusedRow()).toBe('thread-link:gamma')
    await context.close()
  })

  test('the sidebar pages in more chats as it scrolls, without loading them all', async () => {
    const { page, context, user } = await signedInPage(browser, server, 'hoarder')
    // 130 threads straight into the database (fast), then the list shows them page by page.
    const ids = await (async () => {
      const made: string[] = []
      for (let i = 0; i < 130; i++)
        made.push(
          (
            (await (
              await server.api('/api/threads', { token: user.accessToken, body: { title: `chat ${i}` } })
            ).json()) as any
          ).thread.id,
        )
      return made
    })()
    expect(ids.length).toBe(130)
    await page.reload()
    await page.locator('.thread-item').nth(49).waitFor()
    expect(await page.locator('.thread-item').count()).toBeLessThanOrEqual(100)
    for (let i = 0; i < 10 && (await page.locator('.thread-item').count()) < 130; i++) {
      // Counted before the scroll: a page that arrives at once must not be mistaken for the start.
      const before = await page.locator('.thread-item').count()
      await page.locator('.thread-item').last().scrollIntoViewIfNeeded()
      await page.waitForFunction(
        (n) =>
          document.querySelectorAll('.thread-item').length > n ||
          document.querySelectorAll('.thread-item').length >= 130,
        before,
      )
    }
    expect(await page.locator('.thread-item').count()).toBe(130)
    expect(await page.locator('.thread-item .thread-title').last().textContent()).toBe('chat 0')
    await context.close()
  })

  test('phone: one header, a short placeholder, a labelled Stop, and the full title', async () => {
    const { page, context } = await signedInChat(browser, server, 'pocket', { phone: true })
    expect(await page.getByRole('textbox', { name: 'Message' }).getAttribute('placeholder')).toBe('Message…')
    // One header: the app's bar does not take a row of its own above the chat header.
    const bar = await page.locator('.topbar').boundingBox()
    const header = await page.locator('.chat-header').boundingBox()
    expect(bar!.y + bar!.height).toBeLessThanOrEqual(header!.y + header!.height + 1)
    expect(await page.locator('.topbar-title').isVisible()).toBe(true) // still in the page for screen readers…
    expect((await page.locator('.topbar-title').boundingBox())!.width).toBeLessThanOrEqual(1) // …but not shown
    fake.setHandler(() => ({ hangAfter: 'thinking about it' }))
    await sendMessage(page, 'A fairly long question title for the phone header')
    const stop = page.getByRole('button', { name: 'Stop' })
    await stop.waitFor()
    expect((await stop.locator('span:not(.icon)').boundingBox())!.width).toBeGreaterThan(10)
    await stop.click()
    await page.locator('.run-status', { hasText: 'Cancelled' }).waitFor()
    await page.waitForFunction(() => (document.querySelector('.chat-title')?.textContent ?? '').length > 20)
    const title = await page.locator('.chat-title').boundingBox()
    expect(title!.width).toBeGreaterThan(150)
    await context.close()
  })
})
