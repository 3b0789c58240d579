import type { DatasetRowData, DatasetView, DatasetsRepository } from '../db/repositories/datasets'
import { AppError, InvalidInputError } from '../http/errors'
import { DEFAULT_CSV_LIMITS, type CsvLimits } from './csv'
import { parseCsvInWorker } from './csv-reader'
import type { DatasetQuery } from '../db/repositories/dataset-query'
import { pageRequest } from '../db/paging'

export const DATASET_NAME_MAX = 100
export const DATASET_PREVIEW_ROWS = 100

/** The dataset a tool or request named does not exist for this user. */
export class DatasetNotFoundError extends AppError {
  constructor(message: string) {
    super(404, 'not_found', message)
  }
}

/** CSV datasets: upload, list, preview, delete and query. Used by the routes and the data tools. */
export function datasetsService(datasets: DatasetsRepository, limits: CsvLimits = DEFAULT_CSV_LIMITS) {
  /** A dataset by id or name, or an error that tells the model which datasets exist. */
  async function resolve(ref: string): Promise<DatasetView> {
    const found = typeof ref === 'string' && ref.trim() ? await datasets.find(ref.trim()) : undefined
    if (found) return found
    const all = await datasets.list()
    if (all.length === 0) throw new DatasetNotFoundError('you have no datasets yet; upload a CSV file first')
    throw new DatasetNotFoundError(
      `no dataset named "${String(ref).slice(0, 100)}"; your datasets are ${all.map((d) => `"${d.name}"`).join(', ')}`,
    )
  }

  return {
    list: (): Promise<DatasetView[]> => datasets.list(),

    /** `?limit=&cursor=` (PROTOCOL.md §5). */
    page: (query: { limit?: string; cursor?: string } = {}) => datasets.page(pageRequest(query, 2)),

    /** The dataset and its first rows, in file order. */
    async get(id: string): Promise<{ dataset: DatasetView; rows: DatasetRowData[] }> {
      const dataset = await datasets.get(id)
      return { dataset, rows: await datasets.rows(dataset.id, DATASET_PREVIEW_ROWS) }
    },

    /** Parses the CSV (types inferred) on a worker thread and stores it with all its rows at once. */
    async create(input: { name: string; csv: string }): Promise<DatasetView> {
      const name = input.name?.trim() ?? ''
      if (!name) throw new InvalidInputError('a dataset needs a name')
      if (name.length > DATASET_NAME_MAX)
        throw new InvalidInputError(`a dataset name is at most ${DATASET_NAME_MAX} characters`)
      const { columns, rows } = await parseCsvInWorker(input.csv, limits)
      return datasets.create({ name, columns, rows })
    },

    remove: (id: string): Promise<void> => datasets.remove(id),

    resolve,

    async query(ref: string, request: DatasetQuery): Promise<{ columns: string[]; rows: Record<string, unknown>[] }> {
      const dataset = await resolve(ref)
      return datasets.query(dataset.id, request)
    },
  }
}

export type DatasetsService = ReturnType<typeof datasetsService>
