import { and, asc, eq, sql } from 'drizzle-orm'
import type { Database } from '../client'
import { breathe } from '../breathe'
import { datasetRows, datasets, type DatasetColumn } from '../schema'
import { iso, newId, ownerId } from '../scope'
import { ConflictError } from '../../http/errors'
import { compileDatasetQuery, shapeResult, type DatasetQuery } from './dataset-query'
import type { Page, PageRequest } from '../paging'
import { ownedRows } from './owned-rows'

export interface DatasetView {
  id: string
  name: string
  columns: DatasetColumn[]
  rowCount: number
  createdAt: string
}

export type DatasetRowData = Record<string, string | number | null>

const view = (row: typeof datasets.$inferSelect): DatasetView => ({
  id: row.id,
  name: row.name,
  columns: row.columns,
  rowCount: row.rowCount,
  createdAt: iso(row.createdAt),
})

/**
 * Rows per INSERT statement, and the JSON bytes one statement takes at most. Each statement hands
 * SQLite one JSON array and lets `json_each` unpack it, which is many times faster than binding
 * four parameters per row; bounded by bytes as well, so one statement (which holds the event loop
 * while SQLite runs it) stays short however wide the rows are.
 */
const INSERT_CHUNK = 5000
const INSERT_CHUNK_BYTES = 1024 * 1024

/** The rows from `start` on that fit one statement (at least one), as their JSON array. */
function nextChunk(rows: readonly DatasetRowData[], start: number): { json: string; end: number } {
  const parts: string[] = []
  let bytes = 0
  let end = start
  while (end < rows.length && end - start < INSERT_CHUNK && (end === start || bytes < INSERT_CHUNK_BYTES)) {
    const json = JSON.stringify(rows[end++])
    parts.push(json)
    bytes += json.length
  }
  return { json: `[${parts.join(',')}]`, end }
}

function isUniqueViolation(error: unknown): boolean {
  for (let e: any = error, i = 0; e && i < 5; e = e.cause, i++) {
    if (/UNIQUE constraint failed/i.test(String(e.message)) || e.code === 'SQLITE_CONSTRAINT_UNIQUE') return true
  }
  return false
}

const exists = (name: string) =>
  new ConflictError('dataset_exists', `you already have a dataset named "${name}"; delete it or choose another name`)

/** CSV datasets of the active user and their rows; another user's dataset is "not found". */
export function datasetsRepository(database: Database) {
  const { db, client, writeInTransaction } = database
  const owned = ownedRows(database, datasets, 'dataset')
  const sameName = (userId: string, name: string) =>
    and(eq(datasets.userId, userId), sql`lower(${datasets.name}) = lower(${name})`)

  async function get(id: string): Promise<DatasetView> {
    return view(await owned.get(id))
  }

  return {
    async list(): Promise<DatasetView[]> {
      return (await owned.newest()).map(view)
    },

    /** One page, newest first, keyed by (createdAt, id). */
    page: (page: PageRequest): Promise<Page<DatasetView>> => owned.page(page, view),

    get,

    /** By id, else by name (exact, then ignoring case); undefined when the user has none such. */
    async find(ref: string): Promise<DatasetView | undefined> {
      const userId = ownerId()
      const [byId] = await db
        .select()
        .from(datasets)
        .where(and(eq(datasets.id, ref), eq(datasets.userId, userId)))
      if (byId) return view(byId)
      const [byName] = await db
        .select()
        .from(datasets)
        .where(and(eq(datasets.userId, userId), eq(datasets.name, ref)))
      if (byName) return view(byName)
      const loose = await db.select().from(datasets).where(sameName(userId, ref.trim())).limit(2)
      return loose.length === 1 ? view(loose[0]) : undefined
    },

    /**
     * The dataset and all its rows in one transaction (all or nothing), written a chunk per
     * statement with the event loop let in between chunks. A name the user already has
     * (ignoring case) is a 409 `dataset_exists`.
     */
    async create(input: { name: string; columns: DatasetColumn[]; rows: DatasetRowData[] }): Promise<DatasetView> {
      const userId = ownerId()
      const id = newId()
      const createdAt = Date.now()
      const record = { id, userId, name: input.name, columns: input.columns, rowCount: input.rows.length, createdAt }
      try {
        await writeInTransaction(async (tx) => {
          const [taken] = await tx.select({ id: datasets.id }).from(datasets).where(sameName(userId, input.name))
          if (taken) throw exists(input.name)
          await tx.insert(datasets).values(record)
          for (let start = 0; start < input.rows.length; ) {
            const { json, end } = nextChunk(input.rows, start)
            await tx.run(
              sql`INSERT INTO ${datasetRows} (dataset_id, idx, user_id, data) SELECT ${id}, ${start} + CAST(key AS INTEGER), ${userId}, value FROM json_each(${json})`,
            )
            start = end
            // Requests that need no database are answered meanwhile.
            await breathe()
          }
        })
      } catch (error) {
        if (isUniqueViolation(error)) throw exists(input.name)
        throw error
      }
      return view(record)
    },

    /** Its rows go with it (the composite foreign key cascades). */
    remove: owned.remove,

    /** The first rows in file order. */
    async rows(id: string, limit = 100, offset = 0): Promise<DatasetRowData[]> {
      const rows = await db
        .select({ data: datasetRows.data })
        .from(datasetRows)
        .where(and(eq(datasetRows.userId, ownerId()), eq(datasetRows.datasetId, id)))
        .orderBy(asc(datasetRows.idx))
        .limit(limit)
        .offset(offset)
      return rows.map((r) => JSON.parse(r.data))
    },

    /** Runs a `query_dataset` request over one of the user's datasets (see dataset-query.ts). */
    async query(id: string, request: DatasetQuery): Promise<{ columns: string[]; rows: Record<string, unknown>[] }> {
      const dataset = await get(id)
      const compiled = compileDatasetQuery(request, {
        userId: ownerId(),
        datasetId: dataset.id,
        columns: dataset.columns,
      })
      const result = await client.execute({ sql: compiled.sql, args: compiled.args })
      return shapeResult(compiled, result.rows as unknown as Record<string, unknown>[])
    },
  }
}

export type DatasetsRepository = ReturnType<typeof datasetsRepository>
