import { parse } from 'csv-parse/sync'
import type { DatasetColumn } from '../db/schema'
import { AppError, InvalidInputError } from '../http/errors'

export type CellValue = string | number | null
export type DatasetRow = Record<string, CellValue>

export interface CsvLimits {
  maxBytes: number
  maxRows: number
  maxColumns: number
}

export const DEFAULT_CSV_LIMITS: CsvLimits = { maxBytes: 5 * 1024 * 1024, maxRows: 100_000, maxColumns: 100 }
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
 * `text`. Limits: bytes, rows and columns (413); a missing, empty or duplicate header, ragged
 * rows or broken quoting are 400 errors with the line they were found on.
 */
export function parseCsv(text: string, limits: CsvLimits = DEFAULT_CSV_LIMITS): ParsedCsv {
  if (typeof text !== 'string' || text.trim() === '')
    throw new InvalidInputError('the CSV is empty; it needs a header row and at least one data row')
  const bytes = Buffer.byteLength(text)
  if (bytes > limits.maxBytes)
    throw new DatasetTooLargeError(
      `the CSV is ${(bytes / 1024 / 1024).toFixed(1)} MB; at most ${limits.maxBytes / 1024 / 1024} MB is allowed`,
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
  const rows = body.map((record) => {
    // No prototype: a column named `__proto__` is then a key like any other, not a setter.
    const row: DatasetRow = Object.create(null)
    names.forEach((name, c) => {
      const cell = record[c]
      row[name] = cell === '' ? null : numeric[c] ? parseNumber(cell)! : cell
    })
    return row
  })
  return { columns, rows }
}

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
