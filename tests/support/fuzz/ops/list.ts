/** Reading a whole paged list (`limit`/`cursor`/`nextCursor`), each page checked and scanned. */
import { expectStatus } from '../client'
import { FuzzFailure } from '../world'
import type { FuzzUser, StepContext } from './types'

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

/**
 * A list shows exactly the user's live `what`s: every listed id is a live one of theirs, every
 * live one is listed — and, with `shownAs`, listed with the value the model expects (its name).
 * `listed`: id → what the list shows of it (named in a failure).
 */
export function expectListedAreLive<T>(
  where: string,
  what: string,
  user: FuzzUser,
  listed: Map<string, unknown>,
  live: Map<string, T>,
  shownAs?: (model: T) => unknown,
) {
  for (const [id, shown] of listed)
    if (!live.has(id))
      throw new FuzzFailure(`${where}: ${what} ${id} (${String(shown)}) is not a live ${what} of user ${user.index}`)
  for (const [id, model] of live) {
    if (!listed.has(id)) throw new FuzzFailure(`${where}: user ${user.index}'s ${what} ${id} is missing`)
    if (shownAs && listed.get(id) !== shownAs(model))
      throw new FuzzFailure(
        `${where}: user ${user.index}'s ${what} ${id} is listed as ${listed.get(id)}, not ${shownAs(model)}`,
      )
  }
}
