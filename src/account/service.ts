import type { AuditLog } from '../audit'
import type { AuthService } from '../auth/service'
import type { SessionControl } from '../admin/session-control'
import type { AccountRepository } from '../db/repositories/account'
import type { UsersRepository } from '../db/repositories/users'
import { createUserContext, currentContext, currentUser } from '../context/user-context'
import { AppError, ConflictError, ForbiddenError, UnauthorizedError } from '../http/errors'
import { accountExportPieces } from './export-document'
import { jsonDownload } from './export-stream'

/**
 * A section of the export that another feature owns (documents, shares, API keys): each returns
 * the active user's own rows, without secrets. `origin` is the one the caller reached us by (for
 * links such as a share's url).
 */
export type ExportSection = (origin: string) => Promise<unknown>

/** How recent a token must be to delete an account that has no password. */
export const RECENT_SIGN_IN_SECONDS = 5 * 60

/** Each user's own account: export, password change, deletion. Knows nothing of HTTP. */
export function accountService(deps: {
  account: AccountRepository
  users: UsersRepository
  auth: Pick<AuthService, 'verifyPassword' | 'setPassword'>
  sessions: SessionControl
  audit: Pick<AuditLog, 'record'>
  /** The sections other features own: each must be given, so none is left out silently. */
  sections: { documents: ExportSection; shares: ExportSection; apiKeys: ExportSection }
}) {
  /** Stops every run of the active user still going; the run manager's, once attached. */
  let stopRuns = async () => {}

  return {
    /** The runs are attached once the runtime exists (app.ts): they sit above this layer. */
    attach(runtime: { stopRuns: () => Promise<void> }) {
      stopRuns = runtime.stopRuns
    },

    /**
     * Everything the caller owns, as one JSON document streamed as it is read (export-document.ts):
     * the account is checked and the export audited before the first byte; the body then reads
     * as the caller in a context of its own, which it disposes when it ends.
     */
    async export(request: { ip?: string; origin: string }) {
      const { userId, role, requestId } = currentContext()
      const profile = await deps.account.profile()
      if (!profile) throw new UnauthorizedError('session_revoked', 'the account no longer exists')
      await deps.audit.record({ actorId: userId, action: 'data_exported', targetId: userId, ip: request.ip })
      const exportedAt = new Date().toISOString()
      const sections = Object.fromEntries(
        Object.entries(deps.sections).map(([name, section]) => [name, () => section(request.origin)]),
      )
      const context = createUserContext({ userId, role, requestId })
      return {
        exportedAt,
        body: jsonDownload(context, accountExportPieces(deps.account, { exportedAt, profile }, sections)),
      }
    },

    /** Ends the caller's other sessions; `keepRefreshToken` names the one to keep. */
    async changePassword(
      input: { currentPassword: string; newPassword: string; refreshToken?: string },
      ip?: string,
      keepFamilyId?: string,
    ): Promise<void> {
      const { userId } = currentUser()
      if (!(await deps.auth.verifyPassword(userId, input.currentPassword)))
        throw new ForbiddenError('invalid_credentials', 'the current password is wrong')
      if (input.currentPassword === input.newPassword)
        throw new AppError(400, 'invalid_input', 'the new password must differ from the current one')
      await deps.auth.setPassword(userId, input.newPassword)
      await deps.sessions.passwordChanged(userId, { familyId: keepFamilyId, refreshToken: input.refreshToken })
      await deps.audit.record({ actorId: userId, action: 'password_changed', targetId: userId, ip })
    },

    /**
     * Deletes the caller and every row they own. Proof: the password, or for an account without
     * one (single sign-on), an access token issued in the last 5 minutes.
     */
    async deleteAccount(input: { password?: string; tokenIssuedAt: number }, ip?: string): Promise<void> {
      const { userId } = currentUser()
      const user = await deps.users.findById(userId)
      if (!user) throw gone()
      if (user.passwordHash) {
        if (!input.password || !(await deps.auth.verifyPassword(userId, input.password)))
          throw new ForbiddenError('invalid_credentials', 'the password is wrong')
      } else if (Date.now() / 1000 - input.tokenIssuedAt > RECENT_SIGN_IN_SECONDS) {
        throw new ForbiddenError('reauthentication_required', 'sign in again, then delete the account within 5 minutes')
      }
      // Refused before anything is stopped: a refusal leaves the account as it was.
      const blocker = await deps.users.deletionBlocker(userId)
      if (blocker === 'last_admin') throw lastAdmin()
      if (blocker === 'not_found') throw gone()
      // The runs still going end first (cancelled), so none writes for an account that is gone.
      await stopRuns()
      const result = await deps.users.delete(userId)
      if (result === 'last_admin') throw lastAdmin()
      if (result === 'not_found') throw gone()
      await deps.sessions.deleted(userId)
      await deps.audit.record({ actorId: userId, action: 'account_deleted', targetId: userId, ip })
    },
  }
}

const gone = () => new UnauthorizedError('session_revoked', 'the account no longer exists')
const lastAdmin = () =>
  new ConflictError('last_admin', 'you are the last active admin; promote another account before deleting yours')

export type AccountService = ReturnType<typeof accountService>
