import { Elysia, t } from 'elysia'
import type { ApiKeyGuard } from '../auth/api-keys/guard'
import { chatCompletion, type CompletionDeps } from './completions'

const threadHeader = t.Object({
  'x-thread-id': t.Optional(t.String({ minLength: 1, maxLength: 64, error: 'X-Thread-Id must be a thread id' })),
})

/**
 * The OpenAI-compatible API (PROTOCOL.md §7) for personal API keys: GET /v1/models and
 * POST /v1/chat/completions. Errors take OpenAI's shape (src/http/errors.ts does that for /v1).
 */
export function openaiRoutes(deps: CompletionDeps, guard: ApiKeyGuard) {
  return new Elysia({ name: 'openai-routes' })
    .use(guard)
    .get('/v1/models', () => deps.catalog.list(), { apiKey: true })
    .post(
      '/v1/chat/completions',
      ({ body, headers, apiUser, request }) =>
        chatCompletion(deps, {
          body,
          contentType: request.headers.get('content-type') ?? undefined,
          threadId: headers['x-thread-id'],
          apiUser,
          signal: request.signal,
        }),
      { apiKey: true, headers: threadHeader },
    )
}
