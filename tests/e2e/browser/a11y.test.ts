/**
 * Accessibility basics on every page: each control has an accessible name, keyboard focus is
 * visible and in a sensible order, and text meets WCAG AA contrast (4.5:1) in light and dark.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { Page } from 'playwright-core'
import { chromiumPath, openPage, signedInPage, useBrowserStack } from '../../support/browser'
import { askAboutSales, sendMessage, waitForRunEnd, waitForSocket } from '../../support/chat-page'
import { createDemoBrain } from '../../support/demo-brain'

setDefaultTimeout(60_000)

const { server, browser } = useBrowserStack({ ollama: { handler: createDemoBrain({ chunkDelayMs: 1 }) } })

/** Controls without an accessible name (label, aria-label/labelledby, or text). */
async function unnamedControls(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const bad: string[] = []
    for (const el of document.querySelectorAll<HTMLElement>(
      'button, a[href], input, select, textarea, summary, [tabindex]:not([tabindex="-1"])',
    )) {
      if (el.closest('[hidden]') || (el as HTMLInputElement).type === 'hidden') continue
      const labelled =
        (el as HTMLInputElement).labels?.length ||
        el.getAttribute('aria-label') ||
        el.getAttribute('aria-labelledby') ||
        el.textContent?.trim() ||
        el.getAttribute('title')
      if (!labelled) bad.push(el.outerHTML.slice(0, 120))
    }
    return bad
  })
}

/** Contrast ratios of the text in the given selectors against their effective background. */
async function contrasts(page: Page, selectors: string[]): Promise<Record<string, number>> {
  return page.evaluate((sels) => {
    const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).map(Number)
    const lum = ([r, g, b]: number[]) => {
      const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b)
    }
    const background = (el: Element | null): number[] => {
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor)
        if (c.length >= 3 && (c.length === 3 || c[3] > 0.5)) return c.slice(0, 3)
      }
      return [255, 255, 255]
    }
    const out: Record<string, number> = {}
    for (const sel of sels) {
      const el = document.querySelector(sel)
      if (!el) continue
      const fg = lum(rgb(getComputedStyle(el).color).slice(0, 3))
      const bg = lum(background(el))
      out[sel] = Math.round(((Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05)) * 100) / 100
    }
    return out
  }, selectors)
}

const TEXT_SELECTORS = [
  'body',
  '.chat-title',
  '.thread-title',
  '.sidebar-heading',
  '.account-email',
  '.turn-user .bubble',
  '.agent-badge',
  '.thinking-preview',
  '.handoff-from',
  '.tool-name',
  '.tool-card[data-state=ok] .tool-state',
  '.answer',
  '.run-status',
  '.picker span',
  '.btn-primary.new-chat',
  '.page-link',
]

describe.skipIf(!chromiumPath)('browser: accessibility', () => {
  test('sign-in page: named controls, visible focus', async () => {
    const { page, context } = await openPage(browser, server.url)
    await page.getByLabel('Email').waitFor()
    expect(await unnamedControls(page)).toEqual([])
    await page.keyboard.press('Tab')
    const outline = await page.evaluate(() => {
      const s = getComputedStyle(document.activeElement!)
      return { style: s.outlineStyle, width: parseFloat(s.outlineWidth) }
    })
    expect(outline.style).not.toBe('none')
    expect(outline.width).toBeGreaterThanOrEqual(2)
    await context.close()
  })

  for (const scheme of ['light', 'dark'] as const) {
    test(`chat page after a tool run (${scheme}): named controls, AA contrast, keyboard order`, async () => {
      const { page, context, user } = await signedInPage(browser, server, `a11y-${scheme}`)
      await page.emulateMedia({ colorScheme: scheme })
      expect(await askAboutSales(page, server, user)).toBe('completed')
      await page.locator('.thread-item').first().waitFor()

      expect(await unnamedControls(page)).toEqual([])
      const ratios = await contrasts(page, TEXT_SELECTORS)
      for (const sel of TEXT_SELECTORS) {
        expect({ sel, ratio: ratios[sel] ?? 99 }).toEqual({ sel, ratio: expect.any(Number) })
        if ((ratios[sel] ?? 99) < 4.5) throw new Error(`${scheme}: contrast of ${sel} is ${ratios[sel]}:1, below 4.5:1`)
      }

      // Keyboard: the skip link comes first, then the sidebar, then the chat.
      // Start tabbing from the very top of the document.
      await page.evaluate(() => {
        const start = document.createElement('span')
        start.tabIndex = -1
        document.body.prepend(start)
        start.focus()
      })
      const order: string[] = []
      for (let i = 0; i < 12; i++) {
        await page.keyboard.press('Tab')
        order.push(
          await page.evaluate(() => {
            const el = document.activeElement as HTMLElement
            return el.className || el.id || el.tagName
          }),
        )
      }
      expect(order[0]).toBe('skip-link')
      expect(order.indexOf('btn btn-primary new-chat')).toBeGreaterThan(0)
      expect(order.findIndex((c) => c.includes('thread-link'))).toBeGreaterThan(
        order.indexOf('btn btn-primary new-chat'),
      )
      await context.close()
    })
  }

  test('notes and datasets pages: named controls', async () => {
    const { page, context } = await signedInPage(browser, server, 'a11y-pages', { path: '/#/notes' })
    await page.getByLabel('Title').fill('A note')
    await page.getByRole('button', { name: 'Add note' }).click()
    await page.locator('.note-item').waitFor()
    expect(await unnamedControls(page)).toEqual([])
    await page.getByRole('link', { name: 'Datasets' }).click()
    await page
      .getByLabel('CSV file', { exact: true })
      .setInputFiles({ name: 'd.csv', mimeType: 'text/csv', buffer: Buffer.from('a,b\n1,x\n') })
    await page.getByRole('button', { name: 'Upload' }).click()
    await page.locator('.column-chip').first().waitFor()
    expect(await unnamedControls(page)).toEqual([])
    await context.close()
  })

  for (const scheme of ['light', 'dark'] as const) {
    test(`documents page and source chips (${scheme}): named controls, AA contrast`, async () => {
      const { page, context, user } = await signedInPage(browser, server, `a11y-docs-${scheme}`)
      await page.emulateMedia({ colorScheme: scheme })
      const res = await server.api('/api/documents', {
        token: user.accessToken,
        body: { name: 'tides.md', text: 'The tide rises twice a day in the harbour.' },
      })
      expect(res.status).toBe(202)
      await waitForSocket(page)
      await page.getByRole('link', { name: 'Documents', exact: true }).click()
      await page.locator('.document-item[data-status=ready]').waitFor()
      expect(await unnamedControls(page)).toEqual([])
      await page.getByRole('link', { name: 'New chat' }).click()
      await sendMessage(page, 'What do my documents say about the tide in the harbour?')
      expect(await waitForRunEnd(page)).toBe('completed')
      await page.locator('.source-chip').first().click()
      await page.locator('.source-quote').waitFor()
      expect(await unnamedControls(page)).toEqual([])
      const selectors = ['.source-n', '.source-name', '.source-quote', '.source-title', '.sources-label']
      const ratios = await contrasts(page, selectors)
      for (const sel of selectors) {
        expect(ratios[sel]).toEqual(expect.any(Number))
        if (ratios[sel]! < 4.5) throw new Error(`${scheme}: contrast of ${sel} is ${ratios[sel]}:1, below 4.5:1`)
      }
      await page.getByRole('link', { name: 'Documents', exact: true }).click()
      await page.locator('.document-item').waitFor()
      const pageRatios = await contrasts(page, ['.document-name', '.document-state'])
      for (const [sel, ratio] of Object.entries(pageRatios))
        if (ratio < 4.5) throw new Error(`${scheme}: contrast of ${sel} is ${ratio}:1, below 4.5:1`)
      await context.close()
    })
  }
})
