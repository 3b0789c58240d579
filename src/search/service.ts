import type { SearchRepository } from '../db/repositories/search'
import { pageRequest } from '../db/paging'
import { InvalidInputError } from '../http/errors'
import type { CursorSeal } from '../db/sealed-cursor'

/**
 * Search of the user's own chats (PROTOCOL.md §6). Its cursors are sealed: they hold bm25
 * scores, which depend on every user's messages (src/db/sealed-cursor.ts).
 */
export function searchService(search: SearchRepository, cursors: CursorSeal) {
  return {
    async find(query: { q?: string; limit?: string; cursor?: string }) {
      const q = query.q?.trim()
      if (!q) throw new InvalidInputError('q (what to search for) must not be empty')
      const cursor = query.cursor ? cursors.open(query.cursor) : undefined
      const page = await search.search(q, pageRequest({ limit: query.limit, cursor }, 3))
      return { ...page, nextCursor: page.nextCursor && cursors.seal(page.nextCursor) }
    },
  }
}

export type SearchService = ReturnType<typeof searchService>
