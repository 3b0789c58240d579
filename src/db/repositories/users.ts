import { and, asc, count, eq, gt, sql } from 'drizzle-orm'
import type { Database } from '../client'
import { oidcIdentities, users } from '../schema'
import { newId } from '../scope'
import type { Role } from '../../context/user-context'

export interface UserView {
  id: string
  email: string
  name: string
  role: Role
}

export type UserRow = typeof users.$inferSelect
export const userView = (row: UserRow): UserView => ({ id: row.id, email: row.email, name: row.name, role: row.role })

/** What an admin may change on an account (never its content). */
export interface AccountPatch {
  role?: Role
  disabled?: boolean
  /** `null` clears the override (back to the server defaults). */
  quota?: { runsPerDay: number | null; tokensPerDay: number | null } | null
}

/** An active admin: role admin and not disabled. The last one must stay. */
const activeAdmin = sql`(${users.role} = 'admin' AND ${users.disabled} = 0)`

/**
 * An account may be deleted unless it is the last active admin while other accounts remain
 * (the account's own row is `users`, every other one `other`).
 */
const deletableGuard = (id: string) =>
  sql`(NOT ${activeAdmin} OR (SELECT count(*) FROM ${users} AS other WHERE other.role = 'admin' AND other.disabled = 0 AND other.id != ${id}) > 0 OR (SELECT count(*) FROM ${users} AS other WHERE other.id != ${id}) = 0)`

/**
 * Accounts are the one table read before anyone is signed in, so this repository is not
 * user-scoped; only the auth, admin and account services use it.
 */
export function usersRepository({ db, write }: Database) {
  return {
    async findByEmail(email: string): Promise<UserRow | undefined> {
      const [row] = await db.select().from(users).where(eq(users.email, email.toLowerCase()))
      return row
    },

    /** Whether any account exists yet (the first-run page asks, before anyone can sign in). */
    async anyExists(): Promise<boolean> {
      const [row] = await db.select({ id: users.id }).from(users).limit(1)
      return !!row
    },

    async findById(id: string): Promise<UserRow | undefined> {
      const [row] = await db.select().from(users).where(eq(users.id, id))
      return row
    },

    /**
     * The first account becomes admin; decided inside the write queue so two can't both be
     * first. `role` (admin-created accounts) overrides the default `member` for later ones.
     */
    async create(
      input: { email: string; name: string; passwordHash?: string; role?: Role },
      allowIfNotFirst: boolean,
    ): Promise<UserRow | 'closed' | 'taken'> {
      return write(async (db) => {
        const [{ n }] = await db.select({ n: count() }).from(users)
        if (n > 0 && !allowIfNotFirst) return 'closed'
        const [existing] = await db
          .select({ id: users.id })
          .from(users)
          .where(eq(users.email, input.email.toLowerCase()))
        if (existing) return 'taken'
        const role: Role = n === 0 ? 'admin' : (input.role ?? 'member')
        const [row] = await db
          .insert(users)
          .values({
            id: newId(),
            email: input.email.toLowerCase(),
            name: input.name,
            passwordHash: input.passwordHash,
            role,
            createdAt: Date.now(),
          })
          .returning()
        return row
      })
    },

    /** What the session view needs of a user (src/auth/sessions); undefined when the account is gone. */
    async sessionState(
      id: string,
    ): Promise<
      { role: Role; disabled: boolean; sessionsValidAfter: number | null; sessionsChangedAt: number | null } | undefined
    > {
      const [row] = await db
        .select({
          role: users.role,
          disabled: users.disabled,
          sessionsValidAfter: users.sessionsValidAfter,
          sessionsChangedAt: users.sessionsChangedAt,
        })
        .from(users)
        .where(eq(users.id, id))
      return row
    },

    /** Voids every access token issued before `at` (ms); never moves the time back. */
    async endSessionsBefore(id: string, at: number): Promise<void> {
      await write((db) =>
        db
          .update(users)
          .set({
            sessionsValidAfter: sql`max(coalesce(${users.sessionsValidAfter}, 0), ${at})`,
            sessionsChangedAt: Date.now(),
          })
          .where(eq(users.id, id)),
      )
    },

    async setDisabled(id: string, disabled: boolean): Promise<void> {
      await write((db) => db.update(users).set({ disabled, sessionsChangedAt: Date.now() }).where(eq(users.id, id)))
    },

    async setRole(id: string, role: Role): Promise<void> {
      await write((db) => db.update(users).set({ role, sessionsChangedAt: Date.now() }).where(eq(users.id, id)))
    },

    /** Users whose session state changed after `sinceMs` (the session view polls this). */
    async sessionChangesSince(
      sinceMs: number,
    ): Promise<
      { id: string; role: Role; disabled: boolean; sessionsValidAfter: number | null; sessionsChangedAt: number }[]
    > {
      const rows = await db
        .select({
          id: users.id,
          role: users.role,
          disabled: users.disabled,
          sessionsValidAfter: users.sessionsValidAfter,
          sessionsChangedAt: users.sessionsChangedAt,
        })
        .from(users)
        .where(gt(users.sessionsChangedAt, sinceMs))
      return rows.map((r) => ({ ...r, sessionsChangedAt: r.sessionsChangedAt! }))
    },

    async findByIdentity(issuer: string, subject: string): Promise<UserRow | undefined> {
      const [row] = await db
        .select({ user: users })
        .from(oidcIdentities)
        .innerJoin(users, eq(users.id, oidcIdentities.userId))
        .where(and(eq(oidcIdentities.issuer, issuer), eq(oidcIdentities.subject, subject)))
      return row?.user
    },

    async linkIdentity(userId: string, issuer: string, subject: string): Promise<void> {
      await write((db) =>
        db.insert(oidcIdentities).values({ userId, issuer, subject, createdAt: Date.now() }).onConflictDoNothing(),
      )
    },

    /** One page of accounts in creation order (ids are time-ordered UUIDv7), after `afterId`. */
    async list(limit: number, afterId?: string): Promise<UserRow[]> {
      return db
        .select()
        .from(users)
        .where(afterId ? gt(users.id, afterId) : undefined)
        .orderBy(asc(users.id))
        .limit(limit)
    },

    /**
     * Applies an admin's change in ONE conditional UPDATE: when it would leave no active admin,
     * nothing changes and the answer is 'last_admin'. A single statement is atomic across
     * processes too (the CLI and cluster nodes write the same database).
     */
    async update(id: string, patch: AccountPatch): Promise<UserRow | 'not_found' | 'last_admin'> {
      const set: Partial<typeof users.$inferInsert> = {}
      if (patch.role !== undefined) set.role = patch.role
      if (patch.disabled !== undefined) set.disabled = patch.disabled
      if (patch.quota !== undefined) {
        set.quotaRunsPerDay = patch.quota?.runsPerDay ?? null
        set.quotaTokensPerDay = patch.quota?.tokensPerDay ?? null
      }
      const removesAdmin = patch.role === 'member' || patch.disabled === true
      return write(async (db) => {
        if (Object.keys(set).length === 0)
          return (await db.select().from(users).where(eq(users.id, id)))[0] ?? 'not_found'
        const guard = removesAdmin
          ? sql`(NOT ${activeAdmin} OR (SELECT count(*) FROM ${users} AS other WHERE other.role = 'admin' AND other.disabled = 0 AND other.id != ${id}) > 0)`
          : undefined
        const [row] = await db
          .update(users)
          .set(set)
          .where(and(eq(users.id, id), guard))
          .returning()
        if (row) return row
        const [exists] = await db.select({ id: users.id }).from(users).where(eq(users.id, id))
        return exists ? 'last_admin' : 'not_found'
      })
    },

    async setPasswordHash(id: string, passwordHash: string): Promise<boolean> {
      const rows = await write((db) =>
        db.update(users).set({ passwordHash }).where(eq(users.id, id)).returning({ id: users.id }),
      )
      return rows.length > 0
    },

    /** Remembered at sign-in and refresh (not per request): enough for "last active" in the admin list. */
    async touchActive(id: string): Promise<void> {
      await write((db) => db.update(users).set({ lastActiveAt: Date.now() }).where(eq(users.id, id)))
    },

    /** What would stop `delete` from taking the account now, if anything. */
    async deletionBlocker(id: string): Promise<'not_found' | 'last_admin' | undefined> {
      const [row] = await db
        .select({ deletable: sql<number>`${deletableGuard(id)}` })
        .from(users)
        .where(eq(users.id, id))
      if (!row) return 'not_found'
      return row.deletable ? undefined : 'last_admin'
    },

    /**
     * Deletes the account; every row the user owns goes with it by ON DELETE CASCADE. Refused
     * ('last_admin') when this is the last active admin and other accounts remain.
     */
    async delete(id: string): Promise<'deleted' | 'not_found' | 'last_admin'> {
      return write(async (db) => {
        const rows = await db
          .delete(users)
          .where(and(eq(users.id, id), deletableGuard(id)))
          .returning({ id: users.id })
        if (rows.length) return 'deleted'
        const [exists] = await db.select({ id: users.id }).from(users).where(eq(users.id, id))
        return exists ? 'last_admin' : 'not_found'
      })
    },
  }
}

export type UsersRepository = ReturnType<typeof usersRepository>
