/**
 * The JSON pieces of the streamed export (src/account/export-stream.ts): joined, they parse to
 * what JSON.stringify of the whole would give, whatever the page boundaries.
 */
import { test, expect } from 'bun:test'
import { openField, pagedArray } from '../../../src/account/export-stream'

async function joined(pieces: AsyncGenerator<string>): Promise<string> {
  let text = ''
  for await (const piece of pieces) text += piece
  return text
}

/** Pages of `items` by index, `size` at a time, as a repository answers them. */
const pagesOf =
  <T>(items: T[], size: number) =>
  async (after: number | undefined) => {
    const start = after === undefined ? 0 : after + 1
    const page = items.slice(start, start + size)
    return { items: page, next: page.length ? start + page.length - 1 : undefined }
  }

test('openField opens one more field after the others, or as the only one', () => {
  expect(JSON.parse(`${openField({ a: 1, b: 'x' }, 'rows')}[1]}`)).toEqual({ a: 1, b: 'x', rows: [1] })
  expect(Object.keys(JSON.parse(`${openField({ b: 1, a: 2 }, 'z')}0}`))).toEqual(['b', 'a', 'z'])
  expect(JSON.parse(`${openField({}, 'rows')}[]}`)).toEqual({ rows: [] })
})

test('pagedArray writes every item once, in order, for sizes on, under and over a page', async () => {
  for (const count of [0, 1, 2, 3, 4, 6, 7]) {
    const items = Array.from({ length: count }, (_, i) => ({ n: i, s: `"${i}",` }))
    const text = await joined(pagedArray(pagesOf(items, 3), 3))
    expect(JSON.parse(text)).toEqual(items)
  }
})
