import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm'
import type { Database } from '../client'
import { datasetRows, datasets, messages, notes, runs, threads, usageDaily, users } from '../schema'
import { iso, ownerId } from '../scope'
import { allOwned } from './owned-rows'
import { messageView } from './messages'
import { threadView, type ThreadView } from './threads'

/** A row as exported: no owner column (it is the caller), times as ISO strings. */
function exported<T extends Record<string, unknown>>(row: T): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(row)) {
    if (key === 'userId' || key === 'passwordHash') continue
    out[key] = key.endsWith('At') && typeof value === 'number' ? iso(value) : value
  }
  return out
}

/**
 * Everything the active user owns, for "take my data out" (PROTOCOL.md §5). Whole rows are
 * selected, so columns other features add come along on their own; threads and messages are
 * read into the views the thread export writes, so an account export imports back. The large
 * parts (messages, dataset rows) are read a page at a time by key, for the streamed export.
 */
export function accountRepository({ db }: Database) {
  return {
    async profile() {
      const [row] = await db.select().from(users).where(eq(users.id, ownerId()))
      if (!row) return undefined
      return { id: row.id, email: row.email, name: row.name, role: row.role, createdAt: iso(row.createdAt) }
    },

    /** Every thread (without its messages), oldest first: the export pages each one's messages. */
    async threads(): Promise<{ thread: ThreadView; leafId: string | null }[]> {
      const rows = await allOwned(db, threads, asc(threads.createdAt), asc(threads.id))
      return rows.map((t) => ({ thread: threadView(t), leafId: t.leafId ?? null }))
    },

    /**
     * The next `limit` messages of one thread (every branch, oldest first) after `after`, the
     * last one's (createdAt, rowid): a page at a time, so a long history is never held whole.
     *
     * Keyed by rowid within a time, not by id as the thread export sorts: only the thread index
     * (user, thread, createdAt, then rowid) can find "after this one" without reading and sorting
     * every message of the same time again for each page (an import gives a whole thread one time:
     * 200,000 such messages took 23 s). The order is the same: ids are UUIDv7 from one monotonic
     * generator (newId), so a later row has both the larger rowid and the larger id.
     */
    async messagesPage(threadId: string, after: [number, number] | undefined, limit: number) {
      const userId = ownerId()
      const keys: { r: number; a: number }[] = []
      if (after) {
        // The rest of the messages of the last one's time, then those of later times.
        keys.push(
          ...(await db.all<{ r: number; a: number }>(sql`SELECT rowid AS r, created_at AS a
            FROM messages INDEXED BY messages_thread
            WHERE user_id = ${userId} AND thread_id = ${threadId} AND created_at = ${after[0]} AND rowid > ${after[1]}
            ORDER BY rowid LIMIT ${limit}`)),
        )
      }
      if (keys.length < limit) {
        keys.push(
          ...(await db.all<{ r: number; a: number }>(sql`SELECT rowid AS r, created_at AS a
            FROM messages INDEXED BY messages_thread
            WHERE user_id = ${userId} AND thread_id = ${threadId} AND created_at > ${after ? after[0] : Number.MIN_SAFE_INTEGER}
            ORDER BY created_at, rowid LIMIT ${limit - keys.length}`)),
        )
      }
      const last = keys.at(-1)
      if (!last) return { items: [], next: undefined }
      const rows = await db
        .select()
        .from(messages)
        .where(
          and(
            // Unary + keeps SQLite off the user index: the rowids find the rows.
            sql`+${messages.userId} = ${userId}`,
            inArray(
              sql`${messages}.rowid`,
              keys.map((k) => k.r),
            ),
          ),
        )
        .orderBy(asc(messages.createdAt), sql`${messages}.rowid`)
      return { items: rows.map(messageView), next: [last.a, last.r] as [number, number] }
    },

    async runs() {
      // The run fields the export lists (not its input: the thread's messages carry that).
      const rows = await allOwned(db, runs, asc(runs.createdAt))
      return rows.map(({ id, threadId, status, agent, model, createdAt, finishedAt }) =>
        exported({ id, threadId, status, agent, model, createdAt, finishedAt }),
      )
    },

    async notes() {
      return (await allOwned(db, notes, asc(notes.createdAt))).map(exported)
    },

    /** Every dataset's own fields, oldest first; its rows are read by `datasetRowsPage`. */
    async datasets() {
      return (await allOwned(db, datasets, asc(datasets.createdAt))).map((d) => ({ id: d.id, fields: exported(d) }))
    },

    /** The next `limit` rows of one dataset after row `afterIdx`, parsed. */
    async datasetRowsPage(datasetId: string, afterIdx: number, limit: number) {
      const rows = await db
        .select({ idx: datasetRows.idx, data: datasetRows.data })
        .from(datasetRows)
        .where(
          and(eq(datasetRows.userId, ownerId()), eq(datasetRows.datasetId, datasetId), gt(datasetRows.idx, afterIdx)),
        )
        .orderBy(asc(datasetRows.idx))
        .limit(limit)
      return { items: rows.map((r) => JSON.parse(r.data) as unknown), next: rows.at(-1)?.idx }
    },

    async usage() {
      return (await allOwned(db, usageDaily, asc(usageDaily.day), asc(usageDaily.model))).map(exported)
    },
  }
}

export type AccountRepository = ReturnType<typeof accountRepository>
