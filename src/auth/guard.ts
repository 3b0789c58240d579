import { Elysia } from 'elysia'
import { createUserContext, enterRequestSlot, type Role, type UserContext } from '../context/user-context'
import { UnauthorizedError } from '../http/errors'
import type { AccessTokens } from './tokens'
import { TokenError } from './tokens'
import type { SessionsService } from './sessions/service'

export function bearerToken(header: string | undefined | null): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '')
  return match?.[1]
}

/** The after-response hook of a guard: the user context it made for the request is disposed. */
export function disposeContextOf(contexts: WeakMap<Request, UserContext>) {
  return ({ request }: { request: Request }) => {
    const context = contexts.get(request)
    if (context) void context.dispose().catch(() => {})
  }
}

/** The caller's request id (a proxy's `x-request-id`), or a new one. */
export const requestIdOf = (request: Request) => request.headers.get('x-request-id') ?? crypto.randomUUID()

/** Who a request's access token speaks for, once checked. */
export interface Principal {
  userId: string
  role: Role
}

/**
 * The `auth` macro: verifies the bearer token, checks that its session is still live, and makes
 * the rest of the request run inside the user's context, so services and repositories find the
 * user with `currentUser()`.
 *
 * The check runs in the transform stage, ahead of body and query validation, so a caller without
 * a valid session hears 401 whatever it sent (src/http/errors.ts keeps an unreadable body's
 * error until then). Guards built on this one (admin) find the caller with `principalOf`.
 */
export function authGuard(access: AccessTokens, sessions: Pick<SessionsService, 'require'>) {
  const contexts = new WeakMap<Request, UserContext>()
  const slots = new WeakMap<Request, ReturnType<typeof enterRequestSlot>>()
  const principals = new WeakMap<Request, Principal>()

  async function authenticate(request: Request): Promise<Principal> {
    const token = bearerToken(request.headers.get('authorization'))
    if (!token) throw new UnauthorizedError('unauthorized', 'missing bearer token')
    let claims
    try {
      claims = await access.verify(token)
    } catch (error) {
      if (error instanceof TokenError) throw new UnauthorizedError(error.code, error.message)
      throw error
    }
    // Ended sessions (logout, reuse, sign-out, disable, delete) are refused here, without a
    // database read; the role is the user's current one, not the token's.
    const { role } = await sessions.require(claims)
    return { userId: claims.userId, role }
  }

  return new Elysia({ name: 'auth-guard' })
    .decorate('principalOf', (request: Request): Principal => {
      const principal = principals.get(request)
      if (!principal) throw new UnauthorizedError()
      return principal
    })
    .onRequest(({ request }) => {
      // Synchronous on purpose: entering the slot here makes it the store for the whole request.
      slots.set(request, enterRequestSlot())
    })
    .onAfterResponse({ as: 'global' }, disposeContextOf(contexts))
    .macro({
      auth: {
        async transform({ request }) {
          principals.set(request, await authenticate(request))
        },
        resolve({ request, principalOf }) {
          const { userId, role } = principalOf(request)
          const context = createUserContext({ userId, role, requestId: requestIdOf(request), signal: request.signal })
          const slot = slots.get(request)
          if (slot) slot.context = context
          contexts.set(request, context)
          return { user: { id: userId, role }, userContext: context }
        },
      },
    })
}

export type AuthGuard = ReturnType<typeof authGuard>
