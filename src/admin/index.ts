import { Elysia } from 'elysia'
import { requestAddress, type TrustProxy } from '../http/client-address'
import type { AuditLog } from '../audit'
import type { UsageService } from '../usage/service'
import type { AdminGuard } from './guard'
import type { StatusBoard } from './status'
import type { AdminService } from './service'
import { adminUsageQuery, auditQuery, createUserBody, updateUserBody, userIdParams, usersQuery } from './model'
import { decodeCursor, encodeCursor, isString, pageLimit } from '../http/keyset-page'

/**
 * /api/admin/* (PROTOCOL.md §5): accounts, usage and the audit log. Members get 403
 * `forbidden`. Nothing here reads or returns what a user wrote.
 */
export function adminRoutes(deps: {
  admin: AdminService
  usage: UsageService
  audit: AuditLog
  status: StatusBoard
  guard: AdminGuard
  /** Whose X-Forwarded-For is believed for the audit event's `ip` (TRUSTED_PROXIES). */
  trust: TrustProxy
}) {
  const { admin } = deps
  return new Elysia({ name: 'admin-routes' })
    .use(deps.guard)
    .onAfterHandle(({ set, request }) => {
      if (new URL(request.url).pathname.startsWith('/api/admin/')) set.headers['cache-control'] = 'no-store'
    })
    .get('/api/admin/users', ({ query }) => admin.listUsers(pageLimit(query.limit), query.cursor), {
      admin: true,
      query: usersQuery,
    })
    .post(
      '/api/admin/users',
      async ({ body, set, admin: me, request, server }) => {
        const user = await admin.createUser({ actorId: me.id, ip: requestAddress(request, server, deps.trust) }, body)
        set.status = 201
        return { user }
      },
      { admin: true, body: createUserBody },
    )
    .patch(
      '/api/admin/users/:id',
      async ({ params, body, admin: me, request, server }) => ({
        user: await admin.updateUser(
          { actorId: me.id, ip: requestAddress(request, server, deps.trust) },
          params.id,
          body,
        ),
      }),
      { admin: true, params: userIdParams, body: updateUserBody },
    )
    .post(
      '/api/admin/users/:id/sign-out',
      async ({ params, set, admin: me, request, server }) => {
        await admin.signOut({ actorId: me.id, ip: requestAddress(request, server, deps.trust) }, params.id)
        set.status = 204
        return undefined
      },
      { admin: true, params: userIdParams },
    )
    .get(
      '/api/admin/usage',
      ({ query }) =>
        deps.usage.all({
          from: query.from,
          to: query.to,
          userId: query.userId,
          limit: pageLimit(query.limit),
          cursor: query.cursor,
        }),
      {
        admin: true,
        query: adminUsageQuery,
      },
    )
    .get(
      '/api/admin/audit',
      async ({ query }) => {
        const limit = pageLimit(query.limit)
        const rows = await deps.audit.list({
          limit: limit + 1,
          beforeId: decodeCursor(query.cursor, isString),
          actorId: query.actorId,
          action: query.action,
        })
        const more = rows.length > limit
        const events = more ? rows.slice(0, limit) : rows
        return { events, nextCursor: more ? encodeCursor(events[events.length - 1].id) : null }
      },
      { admin: true, query: auditQuery },
    )
    .get('/api/admin/status', () => deps.status.snapshot(), { admin: true })
}
