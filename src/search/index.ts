import { Elysia } from 'elysia'
import type { AuthGuard } from '../auth/guard'
import type { SearchService } from './service'
import { searchQueryParams } from './model'
import { namedPage } from '../http/answers'

/** GET /api/search (PROTOCOL.md §6). */
export function searchRoutes(search: SearchService, guard: AuthGuard) {
  return new Elysia({ name: 'search-routes' })
    .use(guard)
    .get('/api/search', async ({ query }) => namedPage('results', await search.find(query)), {
      auth: true,
      query: searchQueryParams,
    })
}
