import type { Role } from '../context/user-context'
import type { RefreshTokenStore } from '../auth/refresh-tokens'
import type { SessionsService } from '../auth/sessions/service'

/**
 * The one place account actions end or change a user's sessions. Each goes through the live
 * session view (`services.sessions`): access tokens get 401 at once on every route, WebSockets
 * close with 4401, refresh families are revoked, and in cluster mode every process hears of it.
 */
export function sessionControl(deps: { refresh: RefreshTokenStore; sessions: SessionsService }) {
  const { sessions } = deps
  return {
    /** An admin's "sign out everywhere". */
    async signOut(userId: string): Promise<void> {
      await sessions.endAll(userId, 'session_revoked')
    },
    async disable(userId: string): Promise<void> {
      await sessions.setDisabled(userId, true)
    },
    /** Old sessions stay ended: a re-enabled user signs in again. */
    async enable(userId: string): Promise<void> {
      await sessions.setDisabled(userId, false)
    },
    /** Live sessions carry the new role from their next request. */
    async roleChanged(userId: string, role: Role): Promise<void> {
      await sessions.setRole(userId, role)
    },
    /**
     * The user's password changed: every other sign-in ends. The one kept is the one the client
     * named by its refresh token, else the caller's (the access token's refresh family).
     */
    async passwordChanged(userId: string, keep: { familyId?: string; refreshToken?: string } = {}): Promise<void> {
      const named = keep.refreshToken ? await deps.refresh.familyOf(keep.refreshToken, userId) : undefined
      const familyId = named ?? keep.familyId
      if (familyId) await sessions.endOthers(userId, familyId)
      else await sessions.endAll(userId, 'session_revoked')
    },
    /** The account is gone: its tokens are 401 `session_revoked` everywhere. */
    async deleted(userId: string): Promise<void> {
      await sessions.endAll(userId, 'account_deleted')
    },
  }
}

export type SessionControl = ReturnType<typeof sessionControl>
