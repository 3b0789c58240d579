import type { AuditAction, AuditDetail, AuditLog } from '../audit'
import type { AuthService } from '../auth/service'
import type { Role } from '../context/user-context'
import type { AccountPatch, UserRow, UsersRepository } from '../db/repositories/users'
import { iso } from '../db/scope'
import { ConflictError, InvalidInputError, NotFoundError } from '../http/errors'
import { decodeCursor, isString, page } from '../http/keyset-page'
import type { SessionControl } from './session-control'

/** An account as admins see it: who, role, state and quota; never anything the user wrote. */
export interface AdminUserView {
  id: string
  email: string
  name: string
  role: Role
  disabled: boolean
  createdAt: string
  lastActiveAt: string | null
  /** The user's own quota override; null = the server's QUOTA_* defaults. */
  quota: { runsPerDay: number | null; tokensPerDay: number | null } | null
}

export const adminUserView = (row: UserRow): AdminUserView => ({
  id: row.id,
  email: row.email,
  name: row.name,
  role: row.role,
  disabled: row.disabled,
  createdAt: iso(row.createdAt),
  lastActiveAt: row.lastActiveAt ? iso(row.lastActiveAt) : null,
  quota:
    row.quotaRunsPerDay === null && row.quotaTokensPerDay === null
      ? null
      : { runsPerDay: row.quotaRunsPerDay, tokensPerDay: row.quotaTokensPerDay },
})

const lastAdmin = () => new ConflictError('last_admin', 'this is the last active admin; promote another account first')

/** Who acts: a signed-in admin (id, address) or the shell (actorId null). */
export interface Actor {
  actorId: string | null
  ip?: string
  via?: 'cli'
}

/**
 * Account administration for the admin API and `bun run admin`. Every session effect goes
 * through `sessions` (session-control.ts), every action into the audit log.
 */
export function adminService(deps: {
  users: UsersRepository
  auth: Pick<AuthService, 'createAccount' | 'setPassword'>
  sessions: SessionControl
  audit: Pick<AuditLog, 'record'>
}) {
  const { users, sessions, audit } = deps
  const detail = (actor: Actor, extra: Record<string, string | number | boolean | null> = {}) => ({
    ...extra,
    ...(actor.via && { via: actor.via }),
  })

  /** Every admin action is recorded: who, on which account, from where (never content). */
  const record = (actor: Actor, action: AuditAction, targetId: string, extra?: AuditDetail) =>
    audit.record({ actorId: actor.actorId, action, targetId, ip: actor.ip, detail: detail(actor, extra) })

  async function find(id: string): Promise<UserRow> {
    const row = await users.findById(id)
    if (!row) throw new NotFoundError('user')
    return row
  }

  return {
    find,

    async findByEmail(email: string): Promise<UserRow> {
      const row = await users.findByEmail(email)
      if (!row) throw new NotFoundError('user')
      return row
    },

    async listUsers(limit: number, cursor?: string) {
      const rows = await users.list(limit + 1, decodeCursor(cursor, isString))
      const { items, nextCursor } = page(rows, limit, adminUserView, (r) => r.id)
      return { users: items, nextCursor }
    },

    /** Works with sign-up closed; the password follows the registration rules. */
    async createUser(
      actor: Actor,
      input: { email: string; password: string; name?: string; role?: Role },
    ): Promise<AdminUserView> {
      const created = await deps.auth.createAccount(input, true)
      await record(actor, 'user_created', created.id, { role: created.role })
      return adminUserView(await find(created.id))
    },

    async updateUser(
      actor: Actor,
      id: string,
      input: { role?: Role; disabled?: boolean; quota?: { runsPerDay?: number; tokensPerDay?: number } | null },
    ): Promise<AdminUserView> {
      if (input.role === undefined && input.disabled === undefined && input.quota === undefined)
        throw new InvalidInputError('nothing to change: send role, disabled or quota')
      const before = await find(id)
      const patch: AccountPatch = {
        role: input.role,
        disabled: input.disabled,
        quota:
          input.quota === undefined
            ? undefined
            : input.quota === null
              ? null
              : { runsPerDay: input.quota.runsPerDay ?? null, tokensPerDay: input.quota.tokensPerDay ?? null },
      }
      const result = await users.update(id, patch)
      if (result === 'not_found') throw new NotFoundError('user')
      if (result === 'last_admin') throw lastAdmin()
      if (input.disabled === true && !before.disabled) await sessions.disable(id)
      if (input.disabled === false && before.disabled) await sessions.enable(id)
      if (input.role && input.role !== before.role) await sessions.roleChanged(id, input.role)
      const changed: Record<string, string | number | boolean | null> = {}
      if (input.role !== undefined) changed.role = input.role
      if (input.disabled !== undefined) changed.disabled = input.disabled
      if (input.quota !== undefined) {
        changed.runsPerDay = patch.quota?.runsPerDay ?? null
        changed.tokensPerDay = patch.quota?.tokensPerDay ?? null
      }
      await record(actor, 'user_updated', id, changed)
      return adminUserView(result)
    },

    async signOut(actor: Actor, id: string): Promise<void> {
      await find(id)
      await sessions.signOut(id)
      await record(actor, 'user_signed_out', id)
    },

    /** The shell's reset (the admin API never sets another user's password). */
    async resetPassword(actor: Actor, id: string, password: string): Promise<void> {
      await find(id)
      await deps.auth.setPassword(id, password)
      await sessions.passwordChanged(id)
      await record(actor, 'password_changed', id)
    },
  }
}

export type AdminService = ReturnType<typeof adminService>
