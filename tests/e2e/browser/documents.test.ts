/** The Documents page (upload, live progress, delete) and source chips under a cited answer. */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { chromiumPath, signedInPage, useBrowserStack } from '../../support/browser'
import { sendMessage, waitForRunEnd, waitForSocket } from '../../support/chat-page'
import { createDemoBrain } from '../../support/demo-brain'
import { addTextDocument } from '../../support/documents'

setDefaultTimeout(60_000)

// A slow scripted embedder, so the progress bar is visible while a document is processed.
const { server, browser } = useBrowserStack({ ollama: { handler: createDemoBrain(), embedDelayMs: 150 } })

const FASTNET =
  'The Fastnet lighthouse stands on a rock off the coast of Cork.\n\nIts granite tower was finished in 1904.'

describe.skipIf(!chromiumPath)('browser: documents and citations', () => {
  test('upload a Markdown file: a progress bar while processing, then ready; a wrong type is refused; delete', async () => {
    const { page, context, user, errors } = await signedInPage(browser, server, 'librarian', { path: '/#/documents' })
    await page.getByRole('heading', { name: 'Documents', level: 1 }).waitFor()
    await waitForSocket(page)
    await page.getByText('No documents yet.').waitFor()

    // Records every progress value the page shows, however fast ingestion goes.
    await page.evaluate(() => {
      const seen: number[] = ((window as any).__progress = [])
      new MutationObserver(() => {
        for (const bar of document.querySelectorAll<HTMLProgressElement>('.document-progress'))
          if (!seen.includes(bar.value)) seen.push(bar.value)
      }).observe(document.body, { subtree: true, childList: true, attributes: true })
    })
    const text = Array.from(
      { length: 600 },
      (_, i) => `Section ${i}: the harbour master logs ship number ${i} at dawn.`,
    ).join('\n\n')
    await page
      .getByLabel('Files (.txt, .md, .html, .pdf)')
      .setInputFiles({ name: 'harbour.md', mimeType: 'text/markdown', buffer: Buffer.from(text) })
    await page.getByRole('button', { name: 'Upload' }).click()
    const item = page.locator('.document-item', { hasText: 'harbour.md' })
    await item.getByText(/Ready · \d+ passages/).waitFor({ timeout: 30_000 })
    const progress: number[] = await page.evaluate(() => (window as any).__progress)
    // The bar showed the document part-way before it was ready.
    expect(progress.some((v) => v > 0 && v < 100)).toBe(true)
    expect(await item.getAttribute('data-status')).toBe('ready')
    const api = (await (await server.api('/api/documents', { token: user.accessToken })).json()) as any
    expect(api.documents).toHaveLength(1)
    expect(api.documents[0]).toMatchObject({ name: 'harbour.md', status: 'ready', progress: 1 })

    await page.getByLabel('Files (.txt, .md, .html, .pdf)').setInputFiles({
      name: 'photo.png',
      mimeType: 'image/png',
      buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]),
    })
    await page.getByRole('button', { name: 'Upload' }).click()
    await page.getByRole('alert').filter({ hasText: 'photo.png' }).waitFor()

    await page.getByRole('button', { name: 'Delete document “harbour.md”' }).click()
    await page.getByText('No documents yet.').waitFor()
    expect(((await (await server.api('/api/documents', { token: user.accessToken })).json()) as any).documents).toEqual(
      [],
    )
    expect(errors).toEqual([])
    await context.close()
  })

  test('the list shows the newest first, as the API does, also after a reload', async () => {
    const { page, context, user, errors } = await signedInPage(browser, server, 'lister', { path: '/#/documents' })
    for (const name of ['first.txt', 'second.txt', 'third.txt'])
      await addTextDocument(server, user, name, `The ${name} document.`)
    await page.reload()
    await page.locator('.document-item').nth(2).waitFor()
    const shown = await page.locator('.document-name').allTextContents()
    expect(shown).toEqual(['third.txt', 'second.txt', 'first.txt'])
    expect(errors).toEqual([])
    await context.close()
  })

  test('a cited answer shows numbered source chips that open the quoted passage, also after a reload', async () => {
    const { page, context, user, errors } = await signedInPage(browser, server, 'reader')
    await addTextDocument(server, user, 'fastnet.md', FASTNET)
    await waitForSocket(page)
    await sendMessage(page, 'What do my documents say about the Fastnet lighthouse tower?')
    expect(await waitForRunEnd(page, 30_000)).toBe('completed')

    const chips = page.locator('.turn-assistant').last().locator('.source-chip')
    await chips.first().waitFor()
    const labels = await chips.evaluateAll((els) => els.map((el) => el.textContent))
    expect(labels[0]).toBe('1fastnet.md')
    const answer = await page.locator('.turn-assistant').last().locator('.answer').last().innerText()
    expect(answer).toContain('[1]')

    await chips.first().click()
    expect(await chips.first().getAttribute('aria-expanded')).toBe('true')
    const quote = await page.locator('.turn-assistant').last().locator('.source-quote').innerText()
    expect(FASTNET).toContain(quote)
    expect(quote.length).toBeGreaterThan(10)

    await page.reload()
    const stored = page.locator('.turn-assistant').last().locator('.source-chip')
    await stored.first().waitFor()
    expect(await stored.count()).toBe(await chips.count())
    expect(errors).toEqual([])
    await context.close()
  })
})
