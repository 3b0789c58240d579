import { parse } from 'csv-parse/sync'
import type { DatasetColumn } from '../db/schema'
import { AppError, InvalidInputError } from '../http/errors'
import { storedSize } from './stored-size'

export type CellValue = string | number | null
export type DatasetRow = Record<string, CellValue>

export interface CsvLimits {
  maxBytes: number
  maxRows: number
  maxColumns: number
  /**
   * The rows' stored size (src/datasets/stored-size.ts). Every stored row repeats every column
   * name, so a CSV well within `maxBytes` can grow hundreds of times when stored.
   */
  maxStoredBytes: number
}

const MB = 1024 * 1024
/** Stored, a dataset takes at most 4× the largest CSV accepted: 100k rows × 25 short columns fit. */
export const DEFAULT_CSV_LIMITS: CsvLimits = {
  maxBytes: 5 * MB,
  maxRows: 100_000,
  maxColumns: 100,
  maxStoredBytes: 20 * MB,
}
export const MAX_COLUMN_NAME_LENGTH = 200

export class DatasetTooLargeError extends AppError {
  constructor(message: string) {
    super(413, 'dataset_too_large', message)
  }
}

export interface ParsedCsv {
  columns: DatasetColumn[]
  rows: DatasetRow[]
}

/** A cell counts as a number when it reads as a finite decimal number (thousands separators allowed). */
const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/
const GROUPED = /^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$/

export function parseNumber(text: string): number | undefined {
  const candidate = GROUPED.test(text) ? text.replace(/,/g, '') : text
  if (!NUMERIC.test(candidate)) return undefined
  const value = Number(candidate)
  return Number.isFinite(value) ? value : undefined
}

/**
 * Cleans a header into a column name. Double quotes cannot be addressed in a SQLite JSON path,
 * so they become single quotes; control characters go.
 */
function columnName(raw: string): string {
  return (
    raw
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
      .replace(/[\u0000-\u001f\u007f]/g, '')
      .replace(/"/g, "'")
      .trim()
  )
}

/**
 * Parses a CSV text with a header row. Cells are trimmed, empty cells become null, and a column
 * is `number` when every non-empty cell is a finite number (its cells then are numbers), else
 * `text`. Limits: bytes, rows, columns and the stored size (413); a missing, empty or duplicate header, ragged
 * rows or broken quoting are 400 errors with the line they were found on.
 */
export function parseCsv(text: string, limits: CsvLimits = DEFAULT_CSV_LIMITS): ParsedCsv {
  if (typeof text !== 'string' || text.trim() === '')
    throw new InvalidInputError('the CSV is empty; it needs a header row and at least one data row')
  const bytes = Buffer.byteLength(text)
  if (bytes > limits.maxBytes)
    throw new DatasetTooLargeError(
      `the CSV is ${megabytes(bytes)} MB; at most ${megabytes(limits.maxBytes)} MB is allowed`,
    )

  let records: string[][]
  try {
    records = parse(text, {
      bom: true,
      trim: true,
      skip_empty_lines: true,
      relax_column_count: false,
      // One more than allowed: enough to know the file is too long without parsing all of it.
      to: limits.maxRows + 2,
    }) as string[][]
  } catch (error) {
    throw new InvalidInputError(`the CSV could not be read: ${csvErrorMessage(error)}`)
  }
  if (records.length === 0)
    throw new InvalidInputError('the CSV is empty; it needs a header row and at least one data row')
  const [header, ...body] = records
  if (header.length > limits.maxColumns)
    throw new DatasetTooLargeError(`the CSV has ${header.length} columns; at most ${limits.maxColumns} are allowed`)
  if (body.length > limits.maxRows) throw new DatasetTooLargeError(`the CSV has more than ${limits.maxRows} rows`)
  if (body.length === 0) throw new InvalidInputError('the CSV has a header row but no data rows')

  const names = header.map(columnName)
  const seen = new Map<string, number>()
  names.forEach((name, i) => {
    if (name === '')
      throw new InvalidInputError(`column ${i + 1} of the header row has no name; every column needs a name`)
    if (name.length > MAX_COLUMN_NAME_LENGTH)
      throw new InvalidInputError(`column ${i + 1} has a name longer than ${MAX_COLUMN_NAME_LENGTH} characters`)
    const key = name.toLowerCase()
    const first = seen.get(key)
    if (first !== undefined)
      throw new InvalidInputError(
        `the header names the column "${name}" twice (columns ${first + 1} and ${i + 1}); column names must be unique`,
      )
    seen.set(key, i)
  })

  const numeric = names.map(
    (_, c) =>
      body.every((row) => row[c] === '' || parseNumber(row[c]) !== undefined) && body.some((row) => row[c] !== ''),
  )
  const columns: DatasetColumn[] = names.map((name, c) => ({ name, type: numeric[c] ? 'number' : 'text' }))
  // Each cell converted once; the keyed rows are built only once their stored size is known to fit.
  const values = body.map((record) =>
    record.map((cell, c): CellValue => (cell === '' ? null : numeric[c] ? parseNumber(cell)! : cell)),
  )
  const stored = storedSize(names, values)
  if (stored > limits.maxStoredBytes)
    throw new DatasetTooLargeError(
      `stored, the rows would take ${size(stored)} (every row repeats all ${names.length} column names); ` +
        `at most ${size(limits.maxStoredBytes)} is allowed, ${size(stored - limits.maxStoredBytes)} over: ` +
        'use shorter column names or fewer rows',
    )
  const rows = values.map((cells) => {
    // No prototype: a column named `__proto__` is then a key like any other, not a setter.
    const row: DatasetRow = Object.create(null)
    names.forEach((name, c) => {
      row[name] = cells[c]
    })
    return row
  })
  return { columns, rows }
}

const megabytes = (bytes: number) => String(Number((bytes / MB).toFixed(1)))
/** MB from 1 MB on, KB from 1 KB on, else bytes: "0 MB over" would read as not over at all. */
const size = (bytes: number) =>
  bytes >= MB ? `${megabytes(bytes)} MB` : bytes >= 1024 ? `${Number((bytes / 1024).toFixed(1))} KB` : `${bytes} bytes`

function csvErrorMessage(error: unknown): string {
  const e = error as { code?: string; message?: string; lines?: number }
  const line = e.lines ? ` (line ${e.lines})` : ''
  switch (e.code) {
    case 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH':
    case 'CSV_RECORD_DONT_MATCH_COLUMNS_LENGTH':
      return `a row has a different number of fields than the header${line}`
    case 'CSV_QUOTE_NOT_CLOSED':
      return `a quoted field is never closed${line}`
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      return `a quote is misplaced${line}`
  }
  return (e.message ?? 'invalid CSV').slice(0, 300)
}
