import { Elysia } from 'elysia'
import type { AuthGuard } from '../auth/guard'
import type { UsersRepository } from '../db/repositories/users'
import { ForbiddenError, UnauthorizedError } from '../http/errors'

/**
 * The `admin` macro: the `auth` macro plus a role check against the database (not the token's
 * claim), so a demotion or a disable bites on the very next admin request. Like the token check,
 * it runs ahead of validation: a member hears 403 whatever it sent.
 */
export function adminGuard(guard: AuthGuard, users: UsersRepository) {
  const admins = new WeakMap<Request, { id: string }>()
  return new Elysia({ name: 'admin-guard' }).use(guard).macro('admin', {
    auth: true,
    async transform({ request, principalOf }) {
      const row = await users.findById(principalOf(request).userId)
      if (!row) throw new UnauthorizedError('session_revoked', 'the account no longer exists')
      if (row.disabled) throw new UnauthorizedError('account_disabled', 'this account is disabled; ask an admin')
      if (row.role !== 'admin') throw new ForbiddenError('forbidden', 'this needs an admin account')
      admins.set(request, { id: row.id })
    },
    resolve({ request }) {
      const admin = admins.get(request)
      if (!admin) throw new ForbiddenError('forbidden', 'this needs an admin account')
      return { admin }
    },
  })
}

export type AdminGuard = ReturnType<typeof adminGuard>
