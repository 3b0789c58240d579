/** The notes and datasets pages (no WebSocket needed). */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { chromiumPath, openFromNav, useBrowserStack, signedInPage } from '../../support/browser'

setDefaultTimeout(60_000)

const { server, browser } = useBrowserStack()

const SALES_CSV =
  'region,product,units,price\nNorth,Widget,12,2.5\nSouth,Gadget,7,10\nEast,Widget,3,2.5\nWest,Gizmo,21,4.75\n'

describe.skipIf(!chromiumPath)('browser: notes and datasets', () => {
  test('notes: add two, see them listed, delete one', async () => {
    const { page, context, user, errors } = await signedInPage(browser, server, 'noter')
    await openFromNav(page, 'Notes')
    await page.getByText('No notes yet.').waitFor()

    await page.getByLabel('Title').fill('Groceries')
    await page.getByLabel('Text').fill('milk, eggs')
    await page.getByRole('button', { name: 'Add note' }).click()
    await page.locator('.note-item', { hasText: 'Groceries' }).waitFor()
    await page.getByLabel('Title').fill('Call Sam')
    await page.getByRole('button', { name: 'Add note' }).click()
    await page.locator('.note-item', { hasText: 'Call Sam' }).waitFor()
    expect(await page.locator('.note-item').count()).toBe(2)
    expect(await page.locator('.note-item', { hasText: 'Groceries' }).locator('.note-body').textContent()).toBe(
      'milk, eggs',
    )

    const api = (await (await server.api('/api/notes', { token: user.accessToken })).json()) as any
    expect(api.notes.map((n: any) => n.title).sort()).toEqual(['Call Sam', 'Groceries'])

    await page.getByRole('button', { name: 'Delete note “Groceries”' }).click()
    await page.waitForFunction(
      () => ![...document.querySelectorAll('.note-title')].some((el) => el.textContent === 'Groceries'),
    )
    const after = (await (await server.api('/api/notes', { token: user.accessToken })).json()) as any
    expect(after.notes.map((n: any) => n.title)).toEqual(['Call Sam'])
    expect(errors).toEqual([])
    await context.close()
  })

  test('datasets: upload a CSV, see its columns with types and the first rows, then delete it', async () => {
    const { page, context, user, errors } = await signedInPage(browser, server, 'analyst', { path: '/#/datasets' })
    await page.getByRole('heading', { name: 'Datasets', level: 1 }).waitFor()
    await page
      .getByLabel('CSV file', { exact: true })
      .setInputFiles({ name: 'sales.csv', mimeType: 'text/csv', buffer: Buffer.from(SALES_CSV) })
    expect(await page.getByLabel('Name').inputValue()).toBe('sales') // suggested from the file name
    await page.getByRole('button', { name: 'Upload' }).click()

    const chips = page.locator('.column-chip')
    await chips.first().waitFor()
    const columns = await chips.evaluateAll((els) =>
      els.map((el) => [(el as HTMLElement).dataset.column, (el as HTMLElement).dataset.type]),
    )
    expect(columns.map((c) => c[0])).toEqual(['region', 'product', 'units', 'price'])
    const types = Object.fromEntries(columns)
    expect(types.region).toMatch(/text|string/)
    expect(types.units).toMatch(/int|number|numeric|real|float/)
    expect(types.price).toMatch(/number|numeric|real|float|decimal/)
    // The first rows, as uploaded.
    const rows = await page
      .locator('.data-table tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)))
    expect(rows.length).toBe(4)
    expect(rows[0]).toEqual(['North', 'Widget', '12', '2.5'])
    expect(rows[3]).toEqual(['West', 'Gizmo', '21', '4.75'])
    await page.locator('.dataset-item', { hasText: 'sales' }).getByText('4 rows · 4 columns').waitFor()

    await page.getByRole('button', { name: 'Delete dataset “sales”' }).click()
    await page.getByText('No datasets yet.').waitFor()
    const api = (await (await server.api('/api/datasets', { token: user.accessToken })).json()) as any
    expect(api.datasets).toEqual([])
    expect(await page.locator('.column-chip').count()).toBe(0)
    expect(errors).toEqual([])
    await context.close()
  })

  test('datasets: a bad CSV gets a clear error', async () => {
    const { page, context } = await signedInPage(browser, server, 'badcsv', { path: '/#/datasets' })
    await page
      .getByLabel('CSV file', { exact: true })
      .setInputFiles({ name: 'empty.csv', mimeType: 'text/csv', buffer: Buffer.from('') })
    await page.getByRole('button', { name: 'Upload' }).click()
    await page.getByRole('alert').filter({ hasText: 'Could not upload' }).waitFor()
    await context.close()
  })

  test('each user sees only their own notes and datasets', async () => {
    const a = await signedInPage(browser, server, 'owner-a', { path: '/#/notes' })
    await a.page.getByLabel('Title').fill('A secret of A')
    await a.page.getByRole('button', { name: 'Add note' }).click()
    await a.page.locator('.note-item', { hasText: 'A secret of A' }).waitFor()
    const b = await signedInPage(browser, server, 'owner-b', { path: '/#/notes' })
    await b.page.getByText('No notes yet.').waitFor()
    expect(await b.page.content()).not.toContain('A secret of A')
    await a.context.close()
    await b.context.close()
  })
})
