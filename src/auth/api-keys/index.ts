import { Elysia } from 'elysia'
import type { AuthGuard } from '../guard'
import type { ApiKeysService } from './service'
import { createKeyBody, keyParams, listKeysQuery } from './model'
import { deleteById } from '../../http/answers'

/** /api/keys (PROTOCOL.md §7): managed with the user's access token, never with a key. */
export function apiKeyRoutes(keys: ApiKeysService, guard: AuthGuard) {
  return new Elysia({ name: 'api-key-routes' })
    .use(guard)
    .post(
      '/api/keys',
      async ({ body, set }) => {
        set.status = 201
        set.headers['cache-control'] = 'no-store'
        return keys.create(body)
      },
      { auth: true, body: createKeyBody },
    )
    .get(
      '/api/keys',
      ({ query, set }) => {
        set.headers['cache-control'] = 'no-store'
        return keys.list(query)
      },
      { auth: true, query: listKeysQuery },
    )
    .delete(
      '/api/keys/:id',
      deleteById((id) => keys.revoke(id)),
      { auth: true, params: keyParams },
    )
}
