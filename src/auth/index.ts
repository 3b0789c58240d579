import { Elysia } from 'elysia'
import type { AuthService } from './service'
import type { AuthGuard } from './guard'
import { loginBody, refreshBody, registerBody } from './model'

export function clientIp(request: Request, server: { requestIP(r: Request): { address: string } | null } | null): string {
  return server?.requestIP(request)?.address ?? 'unknown'
}

/** /api/auth/* and /api/me (PROTOCOL.md §2). */
export function authRoutes(auth: AuthService, guard: AuthGuard) {
  return new Elysia({ name: 'auth-routes' })
    .use(guard)
    .post('/api/auth/register', async ({ body, set }) => {
      set.status = 201
      return auth.register(body)
    }, { body: registerBody })
    .post('/api/auth/login', ({ body, request, server }) => auth.login(body, clientIp(request, server)), { body: loginBody })
    .post('/api/auth/refresh', ({ body, request, server }) => auth.refresh(body.refreshToken, clientIp(request, server)), { body: refreshBody })
    .post('/api/auth/logout', async ({ body, set, request, server }) => {
      await auth.logout(body.refreshToken, clientIp(request, server))
      set.status = 204
      return undefined
    }, { body: refreshBody })
    .get('/api/me', async ({ user }) => ({ user: await auth.me(user.id) }), { auth: true })
}
