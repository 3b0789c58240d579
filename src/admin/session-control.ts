import type { Role } from '../context/user-context'
import type { RefreshTokenStore } from '../auth/refresh-tokens'

/**
 * The ONE place account actions end or change a user's sessions. Today it revokes the user's
 * refresh-token families (so refresh stops working; login of a disabled account is refused by
 * the auth service reading `users.disabled`). When the live session view lands
 * (`services.sessions`: access tokens 401 within 1 s, WebSockets closed with 4401, cluster-wide),
 * these functions are where it is called — nothing else needs to change.
 */
export function sessionControl(deps: { refresh: RefreshTokenStore }) {
  return {
    /** An admin's "sign out everywhere". */
    async signOut(userId: string): Promise<void> {
      await deps.refresh.revokeAllForUser(userId, 'signed_out')
    },
    async disable(userId: string): Promise<void> {
      await deps.refresh.revokeAllForUser(userId, 'disabled')
    },
    /** Nothing to undo: a re-enabled user signs in again. */
    async enable(_userId: string): Promise<void> {},
    /** Admin routes read the role from the database, so a demotion bites on the next request. */
    async roleChanged(_userId: string, _role: Role): Promise<void> {},
    /** The user's password changed: every other sign-in ends. */
    async passwordChanged(userId: string, keepRefreshToken?: string): Promise<void> {
      await deps.refresh.revokeAllForUser(userId, 'password_changed', keepRefreshToken)
    },
    /** The account is gone; its refresh families went with it (ON DELETE CASCADE). */
    async deleted(_userId: string): Promise<void> {},
  }
}

export type SessionControl = ReturnType<typeof sessionControl>
