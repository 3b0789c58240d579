/**
 * The Markdown renderer (src/web/app/markdown.ts) as a unit, in a real DOM: model output is
 * rendered, and nothing in it may run — scripts, event handlers, javascript: links.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { chromiumPath, launchBrowser } from '../../support/browser'

setDefaultTimeout(60_000)

let browser: Browser
let page: Page
const dialogs: string[] = []

async function bundleRenderer(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'md-test-'))
  try {
    const entry = join(dir, 'entry.ts')
    const module = resolve(import.meta.dir, '../../../src/web/app/markdown.ts')
    writeFileSync(
      entry,
      `import { renderMarkdown } from ${JSON.stringify(module)}\n;(window as any).renderMarkdown = renderMarkdown\n`,
    )
    const result = await Bun.build({ entrypoints: [entry], target: 'browser', format: 'iife' })
    if (!result.success) throw new Error(result.logs.join('\n'))
    return await result.outputs[0].text()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Renders into #out and gives handlers (onerror of a broken image…) time to fire. */
async function render(markdown: string): Promise<string> {
  return page.evaluate(async (md) => {
    const out = document.getElementById('out')!
    out.innerHTML = (window as any).renderMarkdown(md)
    await new Promise((r) => setTimeout(r, 150))
    return out.innerHTML
  }, markdown)
}

const pwned = () => page.evaluate(() => (window as any).__pwned)

describe.skipIf(!chromiumPath)('markdown rendering is sanitised', () => {
  beforeAll(async () => {
    browser = await launchBrowser()
    page = await browser.newPage()
    page.on('dialog', (d) => {
      dialogs.push(d.message())
      void d.dismiss()
    })
    await page.setContent('<!doctype html><html><body><div id="out"></div></body></html>')
    await page.addScriptTag({ content: await bundleRenderer() })
  })
  afterAll(async () => {
    await browser?.close()
  })

  test('renders ordinary Markdown', async () => {
    const html = await render(
      '# Title\n\n**bold** and `code`\n\n- one\n- two\n\n```\n<script>x()</script>\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |',
    )
    expect(html).toContain('<h1>Title</h1>')
    expect(html).toContain('<strong>bold</strong>')
    expect(html).toContain('<li>one</li>')
    expect(html).toContain('&lt;script&gt;x()&lt;/script&gt;') // code shown as text
    expect(html).toContain('<table>')
  })

  test('safe links keep their target and open without an opener', async () => {
    await render('[docs](https://example.com/docs) and <https://example.org>')
    const links = await page.$$eval('#out a', (as) =>
      as.map((a) => [a.getAttribute('href'), a.getAttribute('target'), a.getAttribute('rel')]),
    )
    expect(links[0]).toEqual(['https://example.com/docs', '_blank', 'noopener noreferrer nofollow'])
    expect(links[1][0]).toBe('https://example.org')
  })

  const attacks: [string, string][] = [
    ['script tag', `hello <script>window.__pwned = 'script'</script> world`],
    ['img onerror', `<img src=x onerror="window.__pwned = 'img'">`],
    ['img onerror (markdown image)', `![x](x" onerror="window.__pwned='mdimg')`],
    ['svg onload', `<svg onload="window.__pwned = 'svg'"><circle r=1 /></svg>`],
    ['iframe srcdoc', `<iframe srcdoc="<script>parent.__pwned='iframe'</script>"></iframe>`],
    ['details ontoggle', `<details open ontoggle="window.__pwned='details'"><summary>s</summary></details>`],
    ['body onload', `<body onload="window.__pwned='body'">`],
    ['mXSS via math/style', `<math><mtext><table><mglyph><style><img src=x onerror="window.__pwned='mxss'">`],
    ['style tag', `<style>body{background:url(javascript:window.__pwned='style')}</style>`],
    ['form action', `<form action="javascript:window.__pwned='form'"><button>go</button></form>`],
    ['object data', `<object data="javascript:window.__pwned='object'"></object>`],
    ['alert dialog', `<img src=x onerror=alert(1)>`],
  ]
  for (const [name, payload] of attacks) {
    test(`inert: ${name}`, async () => {
      const html = await render(payload)
      expect(await pwned()).toBeUndefined()
      expect(html).not.toMatch(/<script|<iframe|<object|<embed|<style|<form/i)
      expect(html).not.toMatch(/<[^>]*\son[a-z]+\s*=/i) // inside a tag; as plain text it is harmless
      expect(
        await page.$$eval(
          '#out *',
          (els) => els.filter((el) => [...el.attributes].some((a) => a.name.startsWith('on'))).length,
        ),
      ).toBe(0)
      expect(dialogs).toEqual([])
    })
  }

  test('javascript: and data: links are neutralised, also when clicked', async () => {
    for (const md of [
      `[click me](javascript:window.__pwned='link')`,
      `<a href="JaVaScRiPt:window.__pwned='link2'">click me</a>`,
      `<a href="  javascript:window.__pwned='link3'">click me</a>`,
      `[click me](data:text/html;base64,PHNjcmlwdD5wYXJlbnQuX19wd25lZD0nZGF0YSc8L3NjcmlwdD4=)`,
      `<a href="vbscript:msgbox(1)">click me</a>`,
    ]) {
      await render(md)
      const hrefs = await page.$$eval('#out a', (as) => as.map((a) => a.getAttribute('href')))
      for (const href of hrefs) expect(href === null || /^(https?:|mailto:|#|\/)/i.test(href)).toBe(true)
      const link = await page.$('#out a')
      if (link) await link.click()
      await page.waitForTimeout(50)
      expect(page.url()).toBe('about:blank')
      expect(await pwned()).toBeUndefined()
    }
    expect(dialogs).toEqual([])
  })
})
