import { Elysia } from 'elysia'
import type { AuthGuard } from '../auth/guard'
import type { SharesService } from './service'
import { shareListQuery, shareParams } from './model'
import { created, namedPage } from '../http/answers'
import { collectionRoutes } from '../auth/collection-routes'

/** The origin links are built on: the one the caller reached us by. */
const originOf = (request: Request) => new URL(request.url).origin

/** Shares (PROTOCOL.md §6). `GET /s/:id`, the page, is served by the web plugin. */
export function shareRoutes(shares: SharesService, guard: AuthGuard) {
  return new Elysia({ name: 'share-routes' })
    .use(guard)
    .post(
      '/api/threads/:id/share',
      async ({ params, request, set }) => created(set, { share: await shares.create(params.id, originOf(request)) }),
      { auth: true, params: shareParams },
    )
    .get(
      '/api/shares',
      async ({ query, request }) => namedPage('shares', await shares.list(query, originOf(request))),
      { auth: true, query: shareListQuery },
    )
    .use(collectionRoutes(guard, { path: '/api/shares', remove: (id) => shares.revoke(id) }))
    .get(
      '/api/shares/:id/public',
      async ({ params, set }) => {
        // Readable by anyone with the link, but never cached by shared caches: revoking must bite.
        set.headers['cache-control'] = 'no-store'
        set.headers['referrer-policy'] = 'no-referrer'
        return shares.readPublic(params.id)
      },
      { params: shareParams },
    )
}
