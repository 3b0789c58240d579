/** Reading a whole paged list (`limit`/`cursor`/`nextCursor`), each page checked and scanned. */
import { expectStatus } from '../client'
import { FuzzFailure } from '../world'
import type { StepContext } from './types'

/** Every item of `key` in the pages of `path` (200 a page), and where it was read. */
export async function listAll(ctx: StepContext, path: string, key: string): Promise<{ items: any[]; where: string }> {
  const items: any[] = []
  let cursor: string | null = null
  const join = path.includes('?') ? '&' : '?'
  for (let page = 0; ; page++) {
    if (page > 100) throw new FuzzFailure(`GET ${path}: more than 100 pages`)
    const answer = await ctx.http(
      'GET',
      `${path}${join}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    )
    expectStatus(answer, 200)
    if (!Array.isArray(answer.json[key]))
      throw new FuzzFailure(`${answer.where}: no ${key} list: ${answer.text.slice(0, 200)}`)
    items.push(...answer.json[key])
    cursor = answer.json.nextCursor ?? null
    if (!cursor) return { items, where: `GET ${path} (${page + 1} pages)` }
  }
}
