/**
 * The chat view against the real server and WebSocket, with a scripted Ollama: streaming,
 * run events (thinking, hand-off, tool cards, status), Stop, pickers, isolation between users,
 * other tabs, and inert model output.
 */
import { beforeEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromiumPath, openPage, signedInChat, signedInPage, useBrowserStack } from '../../support/browser'
import {
  askAboutSales,
  lastAnswerText,
  sendMessage,
  waitForAnswerChars,
  waitForRunEnd,
  waitForSocket,
} from '../../support/chat-page'
import { createDemoBrain } from '../../support/demo-brain'

setDefaultTimeout(60_000)

const { server, browser, ollama: fake } = useBrowserStack({ ollama: { models: ['llama3.2', 'qwen3'] } })

const lastUser = (messages: any[]) => [...messages].reverse().find((m) => m.role === 'user')?.content ?? ''

describe.skipIf(!chromiumPath)('browser: chat', () => {
  beforeEach(() => fake.setHandler(undefined))

  test('streams the answer token by token into a new thread; Enter sends, Shift+Enter adds a line', async () => {
    const answer = 'Paris is the capital of France. It sits on the Seine and has about two million inhabitants.'
    fake.setHandler(() => ({
      thinking: 'The user asks about geography.',
      content: answer,
      chunkSize: 3,
      chunkDelayMs: 15,
    }))
    const { page, context, errors } = await signedInChat(browser, server, 'streamer')

    // Record every length the answer goes through, to prove it is rendered as it streams.
    // The message list may still be rendering on a loaded machine: observe it once it exists.
    await page.locator('.messages').waitFor({ state: 'attached' })
    await page.evaluate(() => {
      const lengths: number[] = ((window as any).__lengths = [])
      new MutationObserver(() => {
        const answer = document.querySelector('.turn-assistant .answer')
        const n = answer?.textContent?.length ?? 0
        if (n && lengths[lengths.length - 1] !== n) lengths.push(n)
      }).observe(document.querySelector('.messages')!, { childList: true, subtree: true, characterData: true })
    })
    const box = page.getByRole('textbox', { name: 'Message' })
    await box.fill('What is the capital')
    await box.press('Shift+Enter')
    await box.type('of France?')
    expect(await box.inputValue()).toBe('What is the capital\nof France?')
    await box.press('Enter')
    expect(await box.inputValue()).toBe('')

    expect(await waitForRunEnd(page)).toBe('completed')
    // It grew step by step (the markdown re-render is per animation frame, so not every delta shows).
    const lengths: number[] = await page.evaluate(() => (window as any).__lengths)
    expect(lengths.length).toBeGreaterThanOrEqual(4)
    expect(lengths.every((n, i) => i === 0 || n > lengths[i - 1])).toBe(true)
    expect(await lastAnswerText(page)).toBe(answer)
    await page.locator('.turn-assistant .run-status', { hasText: 'Completed' }).waitFor()
    expect(await page.locator('.thinking-block .thinking-text').last().textContent()).toBe(
      'The user asks about geography.',
    )
    expect(await page.locator('.turn-user .bubble').textContent()).toBe('What is the capital\nof France?')

    // The new thread is in the list, open, and in the URL.
    await page.waitForURL(/#\/c\//)
    const threadId = decodeURIComponent(page.url().split('#/c/')[1])
    await page.locator(`.thread-item[data-thread-id="${threadId}"]`).waitFor()
    expect(await page.locator(`.thread-item[data-thread-id="${threadId}"] a`).getAttribute('aria-current')).toBe('page')

    // After a reload the history shows the same exchange.
    await page.reload()
    await page.locator('.turn-assistant').waitFor()
    expect(await lastAnswerText(page)).toBe(answer)
    expect(await page.locator('.turn-user').count()).toBe(1)
    // The stored run's steps can be brought back.
    await page.getByRole('button', { name: 'Show steps' }).click()
    await page.locator('.turn-assistant .run-status', { hasText: 'Completed' }).waitFor()
    expect(await page.locator('.thinking-block .thinking-text').textContent()).toBe('The user asks about geography.')
    expect(await lastAnswerText(page)).toBe(answer)
    expect(errors).toEqual([])
    await context.close()
  })

  test('two users chatting at the same time each see only their own threads and answers', async () => {
    fake.setHandler((req) => {
      const question = lastUser(req.messages)
      return { content: `Answer for ${question}: ${'lorem ipsum '.repeat(12).trim()}.`, chunkSize: 4, chunkDelayMs: 10 }
    })
    const alice = await signedInPage(browser, server, 'alice')
    const bob = await signedInPage(browser, server, 'bob')
    await Promise.all([waitForSocket(alice.page), waitForSocket(bob.page)])
    await Promise.all([sendMessage(alice.page, 'alice question one'), sendMessage(bob.page, 'bob question one')])
    await Promise.all([waitForRunEnd(alice.page), waitForRunEnd(bob.page)])
    await Promise.all([sendMessage(alice.page, 'alice question two'), sendMessage(bob.page, 'bob question two')])
    // Each page already shows one answer: wait for the second.
    await Promise.all([waitForRunEnd(alice.page, 15_000, 1), waitForRunEnd(bob.page, 15_000, 1)])

    expect(await lastAnswerText(alice.page)).toBe(`Answer for alice question two: ${'lorem ipsum '.repeat(12).trim()}.`)
    expect(await lastAnswerText(bob.page)).toBe(`Answer for bob question two: ${'lorem ipsum '.repeat(12).trim()}.`)
    for (const [me, other] of [
      [alice, 'bob'],
      [bob, 'alice'],
    ] as const) {
      await me.page.locator('.thread-item').first().waitFor()
      const html = await me.page.content()
      expect(html).not.toContain(`${other} question`)
      expect(await me.page.locator('.thread-item').count()).toBe(1)
      expect(await me.page.locator('.turn-assistant').count()).toBe(2)
    }
    await alice.context.close()
    await bob.context.close()
  })

  test('a data-analyst run shows the hand-off, a card per tool call with its result, and the answer', async () => {
    fake.setHandler(createDemoBrain({ chunkDelayMs: 4 }))
    // A stable, readable account for the screenshot.
    const res = await server.api('/api/auth/register', {
      body: { email: 'ada@example.test', password: 'analytical-engine', name: 'Ada' },
    })
    expect(res.status).toBe(201)
    const ada = (await res.json()) as any
    const user = { ...ada, id: ada.user.id, email: ada.user.email }
    const { page, context, errors } = await openPage(browser, server.url, { session: user })
    const csv =
      'region,product,amount\nNorth,Widget,1200\nSouth,Gadget,800\nNorth,Gizmo,600\nEast,Widget,400\nSouth,Widget,300\n'
    expect((await server.api('/api/datasets', { token: user.accessToken, body: { name: 'sales', csv } })).status).toBe(
      201,
    )
    await waitForSocket(page)
    await sendMessage(page, 'Which region sells most in my sales csv?')
    expect(await waitForRunEnd(page)).toBe('completed')

    const handoff = page.locator('.handoff')
    expect((await handoff.evaluate((el) => el.textContent ?? '')).replace(/\s+/g, ' ').trim()).toBe(
      'Auto → Data analyst',
    )
    const cards = page.locator('.tool-card')
    expect(
      await cards.evaluateAll((els) =>
        els.map((el) => [(el as HTMLElement).dataset.tool, (el as HTMLElement).dataset.state]),
      ),
    ).toEqual([
      ['list_datasets', 'ok'],
      ['query_dataset', 'ok'],
    ])
    // The process is folded into one Steps row once the answer is there; the tools speak in words.
    expect(await page.locator('.steps').last().getAttribute('open')).toBeNull()
    expect(
      await cards
        .nth(1)
        .locator('.tool-name')
        .evaluate((el) => el.textContent),
    ).toBe('Queried sales by region (total amount)')
    await page.locator('.steps > summary').last().click()
    const query = cards.nth(1)
    await query.locator('summary').click()
    expect(await query.locator('.tool-args').textContent()).toContain('groupBy: ["region"]')
    // A tabular result is shown as a table.
    const resultRows = await query
      .locator('.tool-result tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)))
    expect(resultRows[0]).toEqual(['North', (1800).toLocaleString('en-US')])
    expect(await query.locator('.tool-state').textContent()).toMatch(/done · \d+(\.\d+)? m?s/)
    expect(await lastAnswerText(page)).toContain('North has the largest sum_amount (1,800)')
    expect(await page.locator('.turn-assistant .agent-badge').last().textContent()).toBe('Data analyst')

    // The screenshot for the README: into docs/ with UPDATE_SCREENSHOTS=1, else test-results/
    // (so an ordinary test run leaves the work tree clean).
    const docs = join(import.meta.dir, '../../..', process.env.UPDATE_SCREENSHOTS ? 'docs' : 'test-results')
    mkdirSync(docs, { recursive: true })
    await page.setViewportSize({ width: 1200, height: 1040 })
    await page.mouse.move(0, 0)
    await page.locator('.messages').evaluate((el) => (el.scrollTop = el.scrollHeight))
    await page.screenshot({ path: join(docs, 'screenshot-chat.png') })
    expect(errors).toEqual([])
    await context.close()
  })

  test('at phone width a tool run fits the screen and the composer stays usable', async () => {
    fake.setHandler(createDemoBrain({ chunkDelayMs: 1 }))
    const { page, context, user } = await signedInPage(browser, server, 'phone', { phone: true })
    expect(await askAboutSales(page, server, user)).toBe('completed')
    const overflow = await page.evaluate(() => {
      const log = document.querySelector('.messages')!
      const wide = [...log.querySelectorAll<HTMLElement>('*')].filter(
        (el) => el.getBoundingClientRect().right > window.innerWidth + 1,
      )
      return { scroll: log.scrollWidth - log.clientWidth, wide: wide.map((el) => el.className).slice(0, 5) }
    })
    expect(overflow).toEqual({ scroll: 0, wide: [] })
    const send = await page.getByRole('button', { name: 'Send' }).boundingBox()
    expect(send!.x + send!.width).toBeLessThanOrEqual(375)
    await context.close()
  })

  test('Stop cancels the run and says so', async () => {
    fake.setHandler(() => ({ content: 'word '.repeat(400), chunkSize: 5, chunkDelayMs: 25 }))
    const { page, context } = await signedInChat(browser, server, 'stopper')
    await sendMessage(page, 'Tell me a very long story')
    await waitForAnswerChars(page, 20, { unfinished: true, timeout: 15_000 })
    const stop = page.getByRole('button', { name: 'Stop' })
    await stop.click()
    expect(await waitForRunEnd(page)).toBe('cancelled')
    await page.locator('.run-status', { hasText: 'Cancelled' }).waitFor()
    expect((await lastAnswerText(page)).length).toBeLessThan('word '.repeat(400).trim().length)
    await page.waitForFunction(() => (document.querySelector('.stop-btn') as HTMLElement).hidden)
    // The composer works again.
    fake.setHandler(() => ({ content: 'Short one.', chunkDelayMs: 1 }))
    const answers = await page.locator('.turn-assistant[data-run-id]').count()
    await sendMessage(page, 'Something short')
    expect(await waitForRunEnd(page, 15_000, answers)).toBe('completed')
    expect(await lastAnswerText(page)).toBe('Short one.')
    await context.close()
  })

  test('a failed run shows the reason', async () => {
    fake.setHandler(() => ({ streamError: 'the model ran out of memory', afterContent: 'Partial ' }))
    const { page, context } = await signedInChat(browser, server, 'failer')
    await sendMessage(page, 'Fail please')
    expect(await waitForRunEnd(page)).toBe('failed')
    const status = await page.locator('.run-status.status-failed').textContent()
    expect(status).toMatch(/^Failed: .+/)
    await context.close()
  })

  test('model output with <script>, <img onerror> or javascript: links is inert', async () => {
    const evil = [
      'Here you go: <script>window.__pwned = "script"; alert("script")</script>',
      "<img src=x onerror=\"window.__pwned = 'img'; alert('img')\">",
      "[click me](javascript:window.__pwned='link')",
      '<a href="javascript:alert(1)" id="evil-link">or me</a>',
      '<svg onload="window.__pwned=\'svg\'"></svg> **still bold**',
    ].join('\n\n')
    fake.setHandler(() => ({ content: evil, chunkSize: 7, chunkDelayMs: 2 }))
    const { page, context, dialogs } = await signedInChat(browser, server, 'xss')
    await sendMessage(page, 'Say something nasty')
    expect(await waitForRunEnd(page)).toBe('completed')

    const check = async () => {
      await page.waitForTimeout(200) // give any handler a chance to fire
      expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined()
      expect(dialogs).toEqual([])
      const answer = page.locator('.turn-assistant .answer').last()
      expect(await answer.locator('script, svg, iframe, object').count()).toBe(0)
      expect(
        await answer.evaluate(
          (el) =>
            [...el.querySelectorAll('*')].filter((n) => [...n.attributes].some((a) => a.name.startsWith('on'))).length,
        ),
      ).toBe(0)
      expect(
        await answer.evaluate(
          (el) =>
            [...el.querySelectorAll('a')].filter((a) => /^\s*javascript:/i.test(a.getAttribute('href') ?? '')).length,
        ),
      ).toBe(0)
      expect(await answer.locator('strong').textContent()).toBe('still bold')
      // Clicking the would-be links does nothing.
      for (const link of await answer.locator('a').all()) await link.click()
      await page.waitForTimeout(100)
      expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined()
      expect(dialogs).toEqual([])
      expect(new URL(page.url()).origin).toBe(server.url)
    }
    await check()
    // The same answer rendered from the stored history.
    await page.reload()
    await page.locator('.turn-assistant .answer').waitFor()
    await check()
    await context.close()
  })

  test('agent and model pickers come from the server and are used for the run', async () => {
    fake.setHandler(() => ({ content: 'Planned.', chunkDelayMs: 1 }))
    const { page, context } = await signedInChat(browser, server, 'picker')
    // The pickers are filled once /api/agents and /api/models answer.
    await page.locator('#agent-select option[value="planner"]').waitFor({ state: 'attached' })
    const agents = await page
      .locator('#agent-select option')
      .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))
    expect(agents).toEqual(expect.arrayContaining(['triage', 'data_analyst', 'notes_assistant', 'planner']))
    expect(await page.locator('#agent-select').inputValue()).toBe('triage')
    await page.locator('#model-select option', { hasText: 'qwen3' }).waitFor({ state: 'attached' })
    const models = await page.locator('#model-select option').allTextContents()
    expect(models[0]).toContain('Default')
    expect(models.some((m) => m.startsWith('qwen3'))).toBe(true)

    await page.getByLabel('Agent').selectOption('planner')
    const qwen = await page.locator('#model-select option', { hasText: 'qwen3' }).getAttribute('value')
    await page.getByLabel('Model').selectOption(qwen!)
    const before = fake.requests.length
    await sendMessage(page, 'Plan my day')
    expect(await waitForRunEnd(page)).toBe('completed')
    expect(fake.requests.slice(before).every((r) => r.model.startsWith('qwen3'))).toBe(true)
    expect(await page.locator('.turn-assistant .agent-badge').last().textContent()).toBe('Planner')
    await context.close()
  })

  test('a failing model list leaves a usable default', async () => {
    fake.setHandler(() => ({ content: 'Still here.', chunkDelayMs: 1 }))
    const { page, context } = await signedInPage(browser, server, 'nomodels')
    await context.route('**/api/models', (route) =>
      route.fulfill({ status: 503, json: { error: { code: 'llm_unavailable', message: 'down' } } }),
    )
    await page.reload()
    await waitForSocket(page)
    expect(await page.locator('#model-select option').count()).toBe(1)
    await sendMessage(page, 'Hello?')
    expect(await waitForRunEnd(page)).toBe('completed')
    expect(await lastAnswerText(page)).toBe('Still here.')
    await context.close()
  })

  test('a run started in another tab shows up live in the matching thread', async () => {
    fake.setHandler((req) => ({
      content: `Reply to ${lastUser(req.messages)} with some more words to stream.`,
      chunkSize: 3,
      chunkDelayMs: 10,
    }))
    const first = await signedInChat(browser, server, 'twotabs')
    await sendMessage(first.page, 'first question')
    await waitForRunEnd(first.page)
    await first.page.waitForURL(/#\/c\//)
    const threadUrl = first.page.url()

    const second = await first.context.newPage() // same user, same storage: another tab
    await second.goto(threadUrl)
    await second.locator('.turn-assistant').waitFor()
    await waitForSocket(second)

    await sendMessage(first.page, 'second question')
    await second.locator('.turn-user .bubble', { hasText: 'second question' }).waitFor()
    expect(await waitForRunEnd(second)).toBe('completed')
    expect(await lastAnswerText(second)).toBe('Reply to second question with some more words to stream.')
    expect(await second.locator('.turn-user').count()).toBe(2)
    // A tab showing another page isn't disturbed, and the other tab's own view is intact.
    expect(await waitForRunEnd(first.page)).toBe('completed')
    expect(await lastAnswerText(first.page)).toBe('Reply to second question with some more words to stream.')
    expect(await first.page.locator('.turn-user').count()).toBe(2)
    await first.context.close()
  })
})
