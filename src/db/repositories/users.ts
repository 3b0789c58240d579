import { and, count, eq, gt, sql } from 'drizzle-orm'
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

type UserRow = typeof users.$inferSelect
export const userView = (row: UserRow): UserView => ({ id: row.id, email: row.email, name: row.name, role: row.role })

/**
 * Accounts are the one table read before anyone is signed in, so this repository is not
 * user-scoped; only the auth service uses it.
 */
export function usersRepository({ db, write }: Database) {
  return {
    async findByEmail(email: string): Promise<UserRow | undefined> {
      const [row] = await db.select().from(users).where(eq(users.email, email.toLowerCase()))
      return row
    },

    async findById(id: string): Promise<UserRow | undefined> {
      const [row] = await db.select().from(users).where(eq(users.id, id))
      return row
    },

    /** The first account becomes admin; decided inside the write queue so two can't both be first. */
    async create(input: { email: string; name: string; passwordHash?: string }, allowIfNotFirst: boolean): Promise<UserRow | 'closed' | 'taken'> {
      return write(async (db) => {
        const [{ n }] = await db.select({ n: count() }).from(users)
        if (n > 0 && !allowIfNotFirst) return 'closed'
        const [existing] = await db.select({ id: users.id }).from(users).where(eq(users.email, input.email.toLowerCase()))
        if (existing) return 'taken'
        const [row] = await db
          .insert(users)
          .values({ id: newId(), email: input.email.toLowerCase(), name: input.name, passwordHash: input.passwordHash, role: n === 0 ? 'admin' : 'user', createdAt: Date.now() })
          .returning()
        return row
      })
    },

    /** What the session view needs of a user (src/auth/sessions); undefined when the account is gone. */
    async sessionState(id: string): Promise<{ role: Role; disabled: boolean; sessionsValidAfter: number | null; sessionsChangedAt: number | null } | undefined> {
      const [row] = await db
        .select({ role: users.role, disabled: users.disabled, sessionsValidAfter: users.sessionsValidAfter, sessionsChangedAt: users.sessionsChangedAt })
        .from(users)
        .where(eq(users.id, id))
      return row
    },

    /** Voids every access token issued before `at` (ms); never moves the time back. */
    async endSessionsBefore(id: string, at: number): Promise<void> {
      await write((db) => db.update(users).set({ sessionsValidAfter: sql`max(coalesce(${users.sessionsValidAfter}, 0), ${at})`, sessionsChangedAt: Date.now() }).where(eq(users.id, id)))
    },

    async setDisabled(id: string, disabled: boolean): Promise<void> {
      await write((db) => db.update(users).set({ disabled, sessionsChangedAt: Date.now() }).where(eq(users.id, id)))
    },

    async setRole(id: string, role: Role): Promise<void> {
      await write((db) => db.update(users).set({ role, sessionsChangedAt: Date.now() }).where(eq(users.id, id)))
    },

    /** Users whose session state changed after `sinceMs` (the session view polls this). */
    async sessionChangesSince(sinceMs: number): Promise<{ id: string; role: Role; disabled: boolean; sessionsValidAfter: number | null; sessionsChangedAt: number }[]> {
      const rows = await db
        .select({ id: users.id, role: users.role, disabled: users.disabled, sessionsValidAfter: users.sessionsValidAfter, sessionsChangedAt: users.sessionsChangedAt })
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
      await write((db) => db.insert(oidcIdentities).values({ userId, issuer, subject, createdAt: Date.now() }).onConflictDoNothing())
    },
  }
}

export type UsersRepository = ReturnType<typeof usersRepository>
