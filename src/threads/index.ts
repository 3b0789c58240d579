import { Elysia } from 'elysia'
import type { AuthGuard } from '../auth/guard'
import type { ThreadsService } from './service'
import { createThreadBody, renameThreadBody, threadParams } from './model'

/** /api/threads (PROTOCOL.md §2). */
export function threadRoutes(threads: ThreadsService, guard: AuthGuard) {
  return new Elysia({ name: 'thread-routes' })
    .use(guard)
    .get('/api/threads', async () => ({ threads: await threads.list() }), { auth: true })
    .post('/api/threads', async ({ body, set }) => {
      set.status = 201
      return { thread: await threads.create(body?.title) }
    }, { auth: true, body: createThreadBody })
    .get('/api/threads/:id', async ({ params }) => ({ thread: await threads.get(params.id) }), { auth: true, params: threadParams })
    .patch('/api/threads/:id', async ({ params, body }) => ({ thread: await threads.rename(params.id, body.title) }), { auth: true, params: threadParams, body: renameThreadBody })
    .delete('/api/threads/:id', async ({ params, set }) => {
      await threads.remove(params.id)
      set.status = 204
      return undefined
    }, { auth: true, params: threadParams })
    .get('/api/threads/:id/messages', async ({ params }) => ({ messages: await threads.messages(params.id) }), { auth: true, params: threadParams })
}
