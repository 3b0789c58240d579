import { Elysia } from 'elysia'
import { createUserContext, type UserContext } from '../../context/user-context'
import { bearerToken, disposeContextOf, requestIdOf } from '../guard'
import type { ApiKeysService, KeyIdentity } from './service'

/**
 * The `apiKey` macro for /v1/* and /mcp: a valid personal API key becomes the request's user
 * context (access tokens are refused there, as keys are on /api/*). Handlers run their work
 * with `apiUser.context.run(...)`; the context follows the request's signal, so a client that
 * hangs up aborts what it started.
 */
export function apiKeyGuard(keys: ApiKeysService) {
  const contexts = new WeakMap<Request, UserContext>()
  return new Elysia({ name: 'api-key-guard' }).onAfterResponse({ as: 'global' }, disposeContextOf(contexts)).macro({
    apiKey: {
      async resolve({ request }) {
        const identity: KeyIdentity = await keys.authenticate(bearerToken(request.headers.get('authorization')))
        const context = createUserContext({
          userId: identity.userId,
          role: identity.role,
          requestId: requestIdOf(request),
          metadata: { apiKeyId: identity.keyId },
          signal: request.signal,
        })
        contexts.set(request, context)
        return { apiUser: { ...identity, context } }
      },
    },
  })
}

export type ApiKeyGuard = ReturnType<typeof apiKeyGuard>
