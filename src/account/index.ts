import { Elysia } from 'elysia'
import { bearerToken, type AuthGuard } from '../auth/guard'
import { requestAddress, type TrustProxy } from '../http/client-address'
import type { AccessTokens } from '../auth/tokens'
import type { AccountService } from './service'
import { changePasswordBody, deleteAccountBody } from './model'

/**
 * /api/me/export, /api/me/password, DELETE /api/me (PROTOCOL.md §5). `trust` decides whose
 * X-Forwarded-For is believed for the audit event's `ip`.
 */
export function accountRoutes(account: AccountService, guard: AuthGuard, access: AccessTokens, trust: TrustProxy) {
  return new Elysia({ name: 'account-routes' })
    .use(guard)
    .get(
      '/api/me/export',
      async ({ request, server }) => {
        const { exportedAt, body } = await account.export({
          ip: requestAddress(request, server, trust),
          origin: new URL(request.url).origin,
        })
        // A Response of its own: the body is a stream, read after this handler has returned.
        return new Response(body, {
          headers: {
            'content-type': 'application/json; charset=utf-8',
            'content-disposition': `attachment; filename="chat-export-${exportedAt.slice(0, 10)}.json"`,
            'cache-control': 'no-store',
          },
        })
      },
      { auth: true },
    )
    .post(
      '/api/me/password',
      async ({ body, set, request, server }) => {
        // The caller's own sign-in goes on: the access token names its refresh family.
        const claims = await access.verify(bearerToken(request.headers.get('authorization'))!)
        await account.changePassword(body, requestAddress(request, server, trust), claims.familyId)
        set.status = 204
        return undefined
      },
      { auth: true, body: changePasswordBody },
    )
    .delete(
      '/api/me',
      async ({ body, set, request, server }) => {
        // The guard verified the token already; this reads when it was issued (for SSO accounts).
        const claims = await access.verify(bearerToken(request.headers.get('authorization'))!)
        await account.deleteAccount(
          { password: body?.password, tokenIssuedAt: claims.expiresAt - access.ttlSeconds },
          requestAddress(request, server, trust),
        )
        set.status = 204
        return undefined
      },
      { auth: true, body: deleteAccountBody },
    )
}
