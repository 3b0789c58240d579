import { and, desc, eq, sql } from 'drizzle-orm'
import type { Database } from '../client'
import { threads } from '../schema'
import { iso, newId, ownerId } from '../scope'
import { NotFoundError } from '../../http/errors'

export interface ThreadView {
  id: string
  title: string
  createdAt: string
  updatedAt: string
}

const view = (row: typeof threads.$inferSelect): ThreadView => ({
  id: row.id,
  title: row.title,
  createdAt: iso(row.createdAt),
  updatedAt: iso(row.updatedAt),
})

/** Threads of the active user; another user's thread is "not found". */
export function threadsRepository({ db, write }: Database) {
  const mine = (id: string) => and(eq(threads.id, id), eq(threads.userId, ownerId()))

  return {
    async list(): Promise<ThreadView[]> {
      const rows = await db.select().from(threads).where(eq(threads.userId, ownerId())).orderBy(desc(threads.updatedAt), desc(threads.id))
      return rows.map(view)
    },

    async get(id: string): Promise<ThreadView> {
      const [row] = await db.select().from(threads).where(mine(id))
      if (!row) throw new NotFoundError('thread')
      return view(row)
    },

    async exists(id: string): Promise<boolean> {
      const [row] = await db.select({ id: threads.id }).from(threads).where(mine(id))
      return !!row
    },

    async create(title: string): Promise<ThreadView> {
      const userId = ownerId()
      const now = Date.now()
      const [row] = await write((db) => db.insert(threads).values({ id: newId(), userId, title, createdAt: now, updatedAt: now }).returning())
      return view(row)
    },

    async rename(id: string, title: string): Promise<ThreadView> {
      const where = mine(id)
      const [row] = await write((db) => db.update(threads).set({ title, updatedAt: Date.now() }).where(where).returning())
      if (!row) throw new NotFoundError('thread')
      return view(row)
    },

    /** Marks activity so the thread sorts first. */
    async touch(id: string): Promise<void> {
      const where = mine(id)
      await write((db) => db.update(threads).set({ updatedAt: sql`max(${threads.updatedAt} + 1, ${Date.now()})` }).where(where))
    },

    /** Messages, runs and events go with it (composite foreign keys cascade). */
    async remove(id: string): Promise<void> {
      const where = mine(id)
      const deleted = await write((db) => db.delete(threads).where(where).returning({ id: threads.id }))
      if (deleted.length === 0) throw new NotFoundError('thread')
    },
  }
}

export type ThreadsRepository = ReturnType<typeof threadsRepository>
