import { Elysia } from 'elysia'
import type { AuthGuard } from '../auth/guard'
import type { UsageService } from './service'
import { usageQuery } from './model'

/** `GET /api/usage`: the caller's own usage and quota (PROTOCOL.md §5). */
export function usageRoutes(usage: UsageService, guard: AuthGuard) {
  return new Elysia({ name: 'usage-routes' }).use(guard).get(
    '/api/usage',
    ({ query, set }) => {
      set.headers['cache-control'] = 'no-store'
      return usage.mine(query)
    },
    { auth: true, query: usageQuery },
  )
}
