import { and, desc, eq, type SQL, sql } from 'drizzle-orm'
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core'
import type { Database } from '../client'
import { ownerId } from '../scope'
import { NotFoundError } from '../../http/errors'
import { toPage, type Page, type PageRequest } from '../paging'

/** A table whose rows each belong to one user: keyed by `id`, newest by `createdAt`. */
export type OwnedTable = SQLiteTable & { id: SQLiteColumn; userId: SQLiteColumn; createdAt: SQLiteColumn }

/** Every row of `table` the active user owns, in `order`: whole-list reads (exports, full lists). */
export async function allOwned<T extends SQLiteTable & { userId: SQLiteColumn }>(
  db: Database['db'],
  table: T,
  ...order: SQL[]
): Promise<T['$inferSelect'][]> {
  return (await db
    .select()
    .from(table as SQLiteTable)
    .where(eq(table.userId, ownerId()))
    .orderBy(...order)) as T['$inferSelect'][]
}

/**
 * The active user's rows of one table, by id and newest first. User scoping lives here, inside
 * each query: another user's row is "not found" (`noun` names it in the error).
 */
export function ownedRows<T extends OwnedTable>({ db, write }: Database, table: T, noun: string) {
  type Row = T['$inferSelect']
  const mine = (id: string) => and(eq(table.id, id), eq(table.userId, ownerId()))
  const select = () => db.select().from(table as SQLiteTable)
  const newestFirst = [desc(table.createdAt), desc(table.id)]

  return {
    mine,

    async get(id: string): Promise<Row> {
      const [row] = (await select().where(mine(id))) as Row[]
      if (!row) throw new NotFoundError(noun)
      return row
    },

    async remove(id: string): Promise<void> {
      const where = mine(id)
      const deleted = await write((db) => db.delete(table).where(where).returning({ id: table.id }))
      if (deleted.length === 0) throw new NotFoundError(noun)
    },

    /** The user's newest rows, at most `limit`. */
    async newest(limit?: number): Promise<Row[]> {
      const query = select()
        .where(eq(table.userId, ownerId()))
        .orderBy(...newestFirst)
      return (await (limit === undefined ? query : query.limit(limit))) as Row[]
    },

    /** One page, newest first, keyed by (createdAt, id). */
    async page<View>(page: PageRequest, view: (row: Row) => View): Promise<Page<View>> {
      const after = page.after && sql`(${table.createdAt}, ${table.id}) < (${page.after[0]}, ${page.after[1]})`
      const rows = (await select()
        .where(and(eq(table.userId, ownerId()), after))
        .orderBy(...newestFirst)
        .limit(page.limit + 1)) as Row[]
      return toPage(rows, page.limit, (row) => [row.createdAt, row.id], view)
    },
  }
}
