import { Elysia } from 'elysia'
import type { UsersRepository } from '../db/repositories/users'

/**
 * `GET /api/setup` → `{needsAdmin}` without login: true until the first account exists, so the
 * UI can offer "Create the admin account" on a fresh server. It says nothing else.
 */
export function setupRoutes(users: Pick<UsersRepository, 'anyExists'>) {
  return new Elysia({ name: 'setup-routes' }).get('/api/setup', async ({ set }) => {
    set.headers['cache-control'] = 'no-store'
    return { needsAdmin: !(await users.anyExists()) }
  })
}
