import { and, eq } from 'drizzle-orm'
import { randomBytes } from 'node:crypto'
import type { Database } from '../client'
import { shares } from '../schema'
import { iso, ownerId } from '../scope'
import { NotFoundError } from '../../http/errors'
import type { Page, PageRequest } from '../paging'
import { ownedRows } from './owned-rows'

export interface SharedMessage {
  role: string
  content: string
  agent?: string
  createdAt: string
}

export interface ShareRecord {
  id: string
  threadId: string
  createdAt: string
}

export interface PublicShare {
  title: string
  createdAt: string
  messages: SharedMessage[]
}

type Row = typeof shares.$inferSelect

const record = (row: Row): ShareRecord => ({ id: row.id, threadId: row.threadId, createdAt: iso(row.createdAt) })

/** 144 random bits, URL-safe: the id is the only thing that grants access to a share. */
export const newShareId = () => randomBytes(18).toString('base64url')

/** Share snapshots. The owner manages their own; anyone holding an id may read that one. */
export function sharesRepository(database: Database) {
  const { db, write } = database
  const owned = ownedRows(database, shares, 'share')
  return {
    async create(input: { threadId: string; title: string; messages: SharedMessage[] }): Promise<ShareRecord> {
      const userId = ownerId()
      const [row] = await write((db) =>
        db
          .insert(shares)
          .values({
            id: newShareId(),
            userId,
            threadId: input.threadId,
            title: input.title,
            messages: input.messages,
            createdAt: Date.now(),
          })
          .returning(),
      )
      return record(row)
    },

    /** The caller's live shares, newest first. */
    page: (page: PageRequest): Promise<Page<ShareRecord>> => owned.page(page, record),

    /** All the caller's live shares with their snapshots, newest first (the account export). */
    async allWithSnapshots(): Promise<(ShareRecord & PublicShare)[]> {
      return (await owned.newest()).map((row) => ({ ...record(row), title: row.title, messages: row.messages }))
    },

    /** Revoking deletes the snapshot: the link stops working at once. */
    async remove(id: string): Promise<ShareRecord> {
      const [row] = await write((db) =>
        db
          .delete(shares)
          .where(and(eq(shares.id, id), eq(shares.userId, ownerId())))
          .returning(),
      )
      if (!row) throw new NotFoundError('share')
      return record(row)
    },

    /**
     * The one read without a user context, by design: the share id is the capability. It
     * returns only the snapshot (title, time, messages) — never the owner or the thread.
     */
    async readPublic(id: string): Promise<PublicShare | undefined> {
      const [row] = await db
        .select({ title: shares.title, createdAt: shares.createdAt, messages: shares.messages })
        .from(shares)
        .where(eq(shares.id, id))
      return row && { title: row.title, createdAt: iso(row.createdAt), messages: row.messages }
    },
  }
}

export type SharesRepository = ReturnType<typeof sharesRepository>
