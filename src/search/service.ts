import type { SearchRepository } from '../db/repositories/search'
import { pageRequest } from '../db/paging'
import { InvalidInputError } from '../http/errors'

/** Search of the user's own chats (PROTOCOL.md §6). */
export function searchService(search: SearchRepository) {
  return {
    find(query: { q?: string; limit?: string; cursor?: string }) {
      const q = query.q?.trim()
      if (!q) throw new InvalidInputError('q (what to search for) must not be empty')
      const page = pageRequest(query, 3)
      return search.search(q, page)
    },
  }
}

export type SearchService = ReturnType<typeof searchService>
