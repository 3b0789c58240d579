import { Elysia } from 'elysia'
import type { AuthService } from './service'
import type { AuthGuard } from './guard'
import { loginBody, refreshBody, registerBody } from './model'
import { requestAddress, trustNobody, type TrustProxy } from '../http/client-address'

/** /api/auth/* and /api/me (PROTOCOL.md §2). `trust` decides whose X-Forwarded-For is believed. */
export function authRoutes(auth: AuthService, guard: AuthGuard, trust: TrustProxy = trustNobody) {
  return new Elysia({ name: 'auth-routes' })
    .use(guard)
    .post(
      '/api/auth/register',
      async ({ body, set, request, server }) => {
        const session = await auth.register(body, requestAddress(request, server, trust))
        set.status = 201
        return session
      },
      { body: registerBody },
    )
    .post('/api/auth/login', ({ body, request, server }) => auth.login(body, requestAddress(request, server, trust)), {
      body: loginBody,
    })
    .post(
      '/api/auth/refresh',
      ({ body, request, server }) => auth.refresh(body.refreshToken, requestAddress(request, server, trust)),
      { body: refreshBody },
    )
    .post(
      '/api/auth/logout',
      async ({ body, set, request, server }) => {
        await auth.logout(body.refreshToken, requestAddress(request, server, trust))
        set.status = 204
        return undefined
      },
      { body: refreshBody },
    )
    .get('/api/me', async ({ user }) => ({ user: await auth.me(user.id) }), { auth: true })
}
