import { Elysia } from 'elysia'
import type { AuthGuard } from '../auth/guard'
import type { SearchService } from './service'
import { searchQueryParams } from './model'

/** GET /api/search (PROTOCOL.md §6). */
export function searchRoutes(search: SearchService, guard: AuthGuard) {
  return new Elysia({ name: 'search-routes' }).use(guard).get(
    '/api/search',
    async ({ query }) => {
      const page = await search.find(query)
      return { results: page.items, nextCursor: page.nextCursor }
    },
    { auth: true, query: searchQueryParams },
  )
}
