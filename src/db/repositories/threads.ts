import { and, desc, eq, sql } from 'drizzle-orm'
import type { Database } from '../client'
import { messages, threads, type Citation } from '../schema'
import { iso, newId, ownerId } from '../scope'
import { NotFoundError } from '../../http/errors'
import { toPage, type Page, type PageRequest } from '../paging'
import { allOwned } from './owned-rows'
import { breather } from '../breathe'
import { sqlIn } from '../group-commit'

export interface ThreadView {
  id: string
  title: string
  createdAt: string
  updatedAt: string
  pinned: boolean
  archived: boolean
}

type Row = typeof threads.$inferSelect

/** A thread read from an import file, in a neutral shape (src/threads/import.ts builds it). */
export interface ImportedMessage {
  /** The id in the source; only used to rebuild the tree (new ids are given on import). */
  key: string
  parentKey: string | null
  role: 'user' | 'assistant' | 'system'
  content: string
  agent?: string
  status?: 'completed' | 'failed' | 'cancelled'
  error?: { code: string; message: string }
  citations?: Citation[]
  createdAt: number
}

export interface ImportedThread {
  title: string
  createdAt: number
  updatedAt: number
  /** The message the thread shows by default (the source's current branch). */
  leafKey: string | null
  messages: ImportedMessage[]
}

/** A thread row as the API shows it. */
export const threadView = (row: Row): ThreadView => ({
  id: row.id,
  title: row.title,
  createdAt: iso(row.createdAt),
  updatedAt: iso(row.updatedAt),
  pinned: row.pinned,
  archived: row.archived,
})

/** The list's sort key (pinned first, then newest activity); the cursor carries it. */
const listKey = (row: Row) => [row.pinned ? 1 : 0, row.updatedAt, row.id]

/** Threads of the active user; another user's thread is "not found". */
/** Most messages in one INSERT (SQLite caps the bound parameters of one statement). */
const INSERT_ROWS = 200
/** Most message text in one INSERT: its full-text indexing runs inside that one statement. */
const INSERT_CHARS = 256 * 1024
/** How long a long write runs before it lets the event loop in. */
const WRITE_SLICE_MS = 10

/** Messages a deletion looks up at a time (then deleted in statements as an import writes them). */
const DELETE_PAGE = 1000

/**
 * `rows` cut into statements of at most INSERT_ROWS rows and about INSERT_CHARS of text (a longer
 * message goes alone).
 */
function* statementsOf<T>(rows: T[], charsOf: (row: T) => number): Generator<T[]> {
  let batch: T[] = []
  let chars = 0
  for (const row of rows) {
    if (batch.length > 0 && (batch.length >= INSERT_ROWS || chars + charsOf(row) > INSERT_CHARS)) {
      yield batch
      batch = []
      chars = 0
    }
    batch.push(row)
    chars += charsOf(row)
  }
  if (batch.length > 0) yield batch
}

export function threadsRepository({ db, write, writeInGroup, writeInTransaction }: Database) {
  const mine = (id: string) => and(eq(threads.id, id), eq(threads.userId, ownerId()))

  return {
    /** Every thread of the user, newest activity first (exports; the API pages with `page`). */
    async list(): Promise<ThreadView[]> {
      return (await allOwned(db, threads, desc(threads.updatedAt), desc(threads.id))).map(threadView)
    },

    /** One page of the active or archived threads: pinned first, then newest activity. */
    async page(page: PageRequest, opts: { archived?: boolean } = {}): Promise<Page<ThreadView>> {
      const after =
        page.after &&
        sql`(${threads.pinned}, ${threads.updatedAt}, ${threads.id}) < (${page.after[0]}, ${page.after[1]}, ${page.after[2]})`
      const rows = await db
        .select()
        .from(threads)
        .where(and(eq(threads.userId, ownerId()), eq(threads.archived, opts.archived ?? false), after))
        .orderBy(desc(threads.pinned), desc(threads.updatedAt), desc(threads.id))
        .limit(page.limit + 1)
      return toPage(rows, page.limit, listKey, threadView)
    },

    /** The message a thread shows by default (null for an empty thread). */
    async leafOf(id: string): Promise<string | null> {
      const [row] = await db.select({ leafId: threads.leafId }).from(threads).where(mine(id))
      if (!row) throw new NotFoundError('thread')
      return row.leafId ?? null
    },

    async get(id: string): Promise<ThreadView> {
      const [row] = await db.select().from(threads).where(mine(id))
      if (!row) throw new NotFoundError('thread')
      return threadView(row)
    },

    async exists(id: string): Promise<boolean> {
      const [row] = await db.select({ id: threads.id }).from(threads).where(mine(id))
      return !!row
    },

    async create(title: string): Promise<ThreadView> {
      const userId = ownerId()
      const now = Date.now()
      const [row] = await writeInGroup((tx) =>
        tx.insert(threads).values({ id: newId(), userId, title, createdAt: now, updatedAt: now }).returning(),
      )
      return threadView(row)
    },

    async rename(id: string, title: string): Promise<ThreadView> {
      return this.update(id, { title })
    },

    /** A new title counts as activity; pinning and archiving do not move the thread. */
    async update(id: string, changes: { title?: string; pinned?: boolean; archived?: boolean }): Promise<ThreadView> {
      const where = mine(id)
      const set = { ...changes, ...(changes.title !== undefined && { updatedAt: Date.now() }) }
      const [row] = Object.keys(set).length
        ? await write((db) => db.update(threads).set(set).where(where).returning())
        : await db.select().from(threads).where(where)
      if (!row) throw new NotFoundError('thread')
      return threadView(row)
    },

    /** Marks activity so the thread sorts first. */
    async touch(id: string): Promise<void> {
      const where = mine(id)
      await write((db) =>
        db
          .update(threads)
          .set({ updatedAt: sql`max(${threads.updatedAt} + 1, ${Date.now()})` })
          .where(where),
      )
    },

    /**
     * Writes imported threads with all their messages in one transaction: all of it lands, or
     * (on any failure) none of it. Everything gets new ids; times are the source's. The
     * statements are small (INSERT_ROWS messages or INSERT_CHARS of text, whichever comes first:
     * each message's text is indexed for search inside its statement) and the event loop gets a
     * turn every few milliseconds, so a large import does not hold the server still.
     */
    async importMany(imported: ImportedThread[]): Promise<{ id: string; title: string }[]> {
      const userId = ownerId()
      const created: { id: string; title: string }[] = []
      const planned = imported.map((t) => {
        const id = newId()
        const ids = new Map(t.messages.map((m) => [m.key, newId()]))
        created.push({ id, title: t.title })
        return {
          thread: {
            id,
            userId,
            title: t.title,
            createdAt: t.createdAt,
            updatedAt: t.updatedAt,
            leafId: t.leafKey ? (ids.get(t.leafKey) ?? null) : null,
          },
          messages: t.messages.map((m) => ({
            id: ids.get(m.key)!,
            userId,
            threadId: id,
            role: m.role,
            content: m.content,
            agent: m.agent,
            createdAt: m.createdAt,
            parentId: m.parentKey ? (ids.get(m.parentKey) ?? null) : null,
            status: m.status,
            errorCode: m.error?.code,
            errorMessage: m.error?.message,
            citations: m.citations,
          })),
        }
      })
      await writeInTransaction(async (tx) => {
        const pause = breather(WRITE_SLICE_MS)
        for (const t of planned) {
          await tx.insert(threads).values(t.thread)
          for (const rows of statementsOf(t.messages, (m) => m.content.length)) {
            await tx.insert(messages).values(rows)
            await pause()
          }
          await pause()
        }
      })
      return created
    },

    /**
     * Deletes the thread in one transaction. Its messages go first, a few at a time with a turn
     * of the event loop between (each deleted message is taken out of the search index, which
     * for a long history takes a while); runs and events then go with the thread row (composite
     * foreign keys cascade).
     */
    async remove(id: string): Promise<void> {
      const userId = ownerId()
      const where = mine(id)
      const deleted = await writeInTransaction(async (tx) => {
        const [found] = await tx.select({ id: threads.id }).from(threads).where(where)
        if (!found) return false
        const pause = breather(WRITE_SLICE_MS)
        // Fixed SQL on the transaction itself: drizzle building a statement of 200 ids for each
        // step cost more than the deletes (a thread of 200,000 messages: 3.7 s against 1.8 s).
        const run = sqlIn(tx)
        for (;;) {
          const page = (
            await run.execute({
              sql: 'SELECT rowid AS r, length(content) AS n FROM messages WHERE user_id = ? AND thread_id = ? LIMIT ?',
              args: [userId, id, DELETE_PAGE],
            })
          ).rows
          for (const rows of statementsOf(page, (m) => Number(m.n))) {
            await run.execute({
              sql: `DELETE FROM messages WHERE rowid IN (${rows.map(() => '?').join(',')})`,
              args: rows.map((m) => m.r),
            })
            await pause()
          }
          if (page.length < DELETE_PAGE) break
        }
        await tx.delete(threads).where(where)
        return true
      })
      if (!deleted) throw new NotFoundError('thread')
    },
  }
}

export type ThreadsRepository = ReturnType<typeof threadsRepository>
