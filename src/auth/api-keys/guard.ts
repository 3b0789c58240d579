import { Elysia } from 'elysia'
import { createUserContext, type UserContext } from '../../context/user-context'
import { UnauthorizedError } from '../../http/errors'
import { bearerToken, disposeContextOf, requestIdOf } from '../guard'
import type { ApiKeysService, KeyIdentity } from './service'

/**
 * The `apiKey` macro for /v1/* and /mcp: a valid personal API key becomes the request's user
 * context (access tokens are refused there, as keys are on /api/*). Handlers run their work
 * with `apiUser.context.run(...)`; the context follows the request's signal, so a client that
 * hangs up aborts what it started. The key is checked in the transform stage, ahead of
 * validation, so a caller without a valid key hears 401 whatever it sent.
 */
export function apiKeyGuard(keys: ApiKeysService) {
  const contexts = new WeakMap<Request, UserContext>()
  const identities = new WeakMap<Request, KeyIdentity>()
  return new Elysia({ name: 'api-key-guard' }).onAfterResponse({ as: 'global' }, disposeContextOf(contexts)).macro({
    apiKey: {
      async transform({ request }) {
        identities.set(request, await keys.authenticate(bearerToken(request.headers.get('authorization'))))
      },
      resolve({ request }) {
        const identity = identities.get(request)
        if (!identity) throw new UnauthorizedError()
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
