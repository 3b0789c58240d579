import { and, desc, eq, lt } from 'drizzle-orm'
import type { Database } from '../client'
import { auditEvents } from '../schema'

export type AuditRow = typeof auditEvents.$inferSelect

/** The audit table: append and read, never update or delete (not user-scoped: admins read it). */
export function auditRepository({ db, write }: Database) {
  return {
    async append(row: AuditRow): Promise<void> {
      await write((db) => db.insert(auditEvents).values(row))
    },

    /** Newest first (ids are time-ordered UUIDv7), before `beforeId`, optionally one actor / action. */
    async list(opts: { limit: number; beforeId?: string; actorId?: string; action?: string }): Promise<AuditRow[]> {
      return db
        .select()
        .from(auditEvents)
        .where(
          and(
            opts.beforeId ? lt(auditEvents.id, opts.beforeId) : undefined,
            opts.actorId ? eq(auditEvents.actorId, opts.actorId) : undefined,
            opts.action ? eq(auditEvents.action, opts.action) : undefined,
          ),
        )
        .orderBy(desc(auditEvents.id))
        .limit(opts.limit)
    },
  }
}

export type AuditRepository = ReturnType<typeof auditRepository>
