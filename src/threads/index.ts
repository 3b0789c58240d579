import { Elysia } from 'elysia'
import type { AuthGuard } from '../auth/guard'
import type { ThreadsService } from './service'
import {
  createThreadBody,
  exportQuery,
  messageListQuery,
  threadListQuery,
  threadParams,
  updateThreadBody,
} from './model'
import { readBodyLimited } from '../http/read-body'
import { namedPage } from '../http/answers'
import { collectionRoutes } from '../auth/collection-routes'

/** /api/threads (PROTOCOL.md §2, §5 paging, §6 branches). */
export function threadRoutes(threads: ThreadsService, guard: AuthGuard, opts: { importMaxBytes: number }) {
  return (
    new Elysia({ name: 'thread-routes' })
      .use(guard)
      .use(
        collectionRoutes(guard, {
          path: '/api/threads',
          list: { plural: 'threads', query: threadListQuery, page: (query) => threads.list(query) },
          create: { singular: 'thread', body: createThreadBody, create: (body) => threads.create(body?.title) },
          get: { singular: 'thread', get: (id) => threads.get(id) },
          remove: (id) => threads.remove(id),
        }),
      )
      .patch('/api/threads/:id', async ({ params, body }) => ({ thread: await threads.update(params.id, body) }), {
        auth: true,
        params: threadParams,
        body: updateThreadBody,
      })
      .get(
        '/api/threads/:id/messages',
        async ({ params, query }) => namedPage('messages', await threads.messages(params.id, query)),
        { auth: true, params: threadParams, query: messageListQuery },
      )
      .get(
        '/api/threads/:id/export',
        async ({ params, query }) => {
          const file = await threads.export(params.id, query.format)
          return new Response(file.body, {
            headers: {
              'content-type': file.type,
              'content-disposition': `attachment; filename="${file.fileName}"`,
              'cache-control': 'no-store',
            },
          })
        },
        { auth: true, params: threadParams, query: exportQuery },
      )
      // Larger than other bodies: read here, limited as it streams (the global parser skips this path).
      .post(
        '/api/threads/import',
        async ({ request, set }) => {
          const created = await threads.import(await readBodyLimited(request, opts.importMaxBytes))
          set.status = 201
          return { threads: created }
        },
        { auth: true, parse: () => ({ deferred: true }) },
      )
  )
}
