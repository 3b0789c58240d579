import type { DatasetColumn } from '../schema'
import { InvalidInputError } from '../../http/errors'

/** `query_dataset` without its `dataset` (PROTOCOL.md §4). */
export interface DatasetQuery {
  where?: WhereCondition[]
  groupBy?: string[]
  aggregate?: { fn: AggregateFn; column?: string }
  orderBy?: { column: string; dir?: 'asc' | 'desc' }
  limit?: number
}

export const WHERE_OPS = ['=', '!=', '<', '<=', '>', '>=', 'contains'] as const
export const AGGREGATE_FNS = ['count', 'sum', 'avg', 'min', 'max'] as const
export type WhereOp = (typeof WHERE_OPS)[number]
export type AggregateFn = (typeof AGGREGATE_FNS)[number]
export type WhereValue = string | number | boolean | null
export interface WhereCondition {
  column: string
  op: WhereOp
  value: WhereValue
}

export const DEFAULT_QUERY_LIMIT = 100
export const MAX_QUERY_LIMIT = 1000
export const MAX_WHERE = 20
export const MAX_GROUP_BY = 5

export interface QueryScope {
  userId: string
  datasetId: string
  columns: readonly DatasetColumn[]
}

/** One parameterised statement plus how to read its rows. */
export interface CompiledQuery {
  sql: string
  args: (string | number)[]
  /** The result's column names, in order. */
  columns: string[]
  /** `rows`: each result row has the row's JSON in `data`; `aggregate`: columns c0, c1, … */
  mode: 'rows' | 'aggregate'
}

export class DatasetQueryError extends InvalidInputError {}

/**
 * The JSON path of a column, `$."<name>"`, always passed as a bound parameter. Backslashes are
 * escaped; double quotes cannot occur (CSV import replaces them), and are refused if they do.
 */
export function jsonPath(column: string): string {
  if (column.includes('"')) throw new DatasetQueryError(`column names cannot contain double quotes: ${column}`)
  return `$."${column.replace(/\\/g, '\\\\')}"`
}

/**
 * Compiles a query over one dataset's rows into ONE parameterised SQL statement. Every value and
 * every column path is a bound parameter; the SQL text is built only from this file's own
 * fragments and ordinals. `user_id = ?` and `dataset_id = ?` are always in the WHERE.
 */
export function compileDatasetQuery(query: DatasetQuery, scope: QueryScope): CompiledQuery {
  const args: (string | number)[] = []
  const bind = (value: string | number) => {
    args.push(value)
    return '?'
  }
  const resolve = columnResolver(scope.columns)
  const col = (column: DatasetColumn) => `json_extract(data, ${bind(jsonPath(column.name))})`

  const limit = query.limit ?? DEFAULT_QUERY_LIMIT
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_QUERY_LIMIT)
    throw new DatasetQueryError(`limit must be a whole number from 1 to ${MAX_QUERY_LIMIT}`)
  const where = query.where ?? []
  if (where.length > MAX_WHERE) throw new DatasetQueryError(`at most ${MAX_WHERE} where conditions are allowed`)
  const groupBy = (query.groupBy ?? []).map((name) => resolve(name, 'groupBy'))
  if (groupBy.length > MAX_GROUP_BY) throw new DatasetQueryError(`at most ${MAX_GROUP_BY} groupBy columns are allowed`)
  if (new Set(groupBy.map((c) => c.name)).size !== groupBy.length)
    throw new DatasetQueryError('groupBy names a column twice')

  // SELECT list first: its parameters come first in the statement.
  const select: string[] = []
  const columns: string[] = []
  let aggregateTarget: DatasetColumn | undefined
  let aggregateName: string | undefined
  const aggregated = !!query.aggregate || groupBy.length > 0
  if (aggregated) {
    for (const g of groupBy) {
      select.push(`${col(g)} AS c${select.length}`)
      columns.push(g.name)
    }
    if (query.aggregate) {
      const { fn } = query.aggregate
      if (!(AGGREGATE_FNS as readonly string[]).includes(fn))
        throw new DatasetQueryError(`aggregate.fn must be one of ${AGGREGATE_FNS.join(', ')}`)
      if (query.aggregate.column !== undefined && query.aggregate.column !== '')
        aggregateTarget = resolve(query.aggregate.column, 'aggregate.column')
      if (fn !== 'count' && !aggregateTarget) throw new DatasetQueryError(`aggregate ${fn} needs a column`)
      if ((fn === 'sum' || fn === 'avg') && aggregateTarget!.type !== 'number') {
        throw new DatasetQueryError(
          `column "${aggregateTarget!.name}" holds text; ${fn} needs a number column (${numberColumns(scope.columns)})`,
        )
      }
      const expr =
        fn === 'count'
          ? aggregateTarget
            ? `count(${col(aggregateTarget)})`
            : 'count(*)'
          : `${fn}(${col(aggregateTarget!)})`
      aggregateName = aggregateTarget ? `${fn}_${aggregateTarget.name}` : 'count'
      select.push(`${expr} AS c${select.length}`)
      columns.push(aggregateName)
    }
  } else {
    select.push('data')
    columns.push(...scope.columns.map((c) => c.name))
  }

  const conditions = [`user_id = ${bind(scope.userId)}`, `dataset_id = ${bind(scope.datasetId)}`]
  where.forEach((condition, i) => {
    conditions.push(compileCondition(condition, i, resolve, col, bind))
  })

  let sql = `SELECT ${select.join(', ')} FROM dataset_rows WHERE ${conditions.join(' AND ')}`
  if (groupBy.length) sql += ` GROUP BY ${groupBy.map((_, i) => i + 1).join(', ')}`

  const dir = query.orderBy?.dir === 'desc' ? 'DESC' : 'ASC'
  if (query.orderBy?.dir !== undefined && query.orderBy.dir !== 'asc' && query.orderBy.dir !== 'desc')
    throw new DatasetQueryError('orderBy.dir must be "asc" or "desc"')
  if (aggregated) {
    let ordinal: number | undefined
    if (query.orderBy) {
      const wanted = query.orderBy.column
      const byName = columns.indexOf(wanted)
      const byInsensitive = columns.findIndex((c) => c.toLowerCase() === wanted.toLowerCase())
      const isAggregateInput =
        aggregateName !== undefined && (wanted === aggregateTarget?.name || wanted === query.aggregate?.fn)
      ordinal =
        byName >= 0
          ? byName + 1
          : isAggregateInput
            ? columns.length
            : byInsensitive >= 0
              ? byInsensitive + 1
              : undefined
      if (ordinal === undefined)
        throw new DatasetQueryError(
          `cannot order by "${wanted}": a grouped result can be ordered by ${columns.map((c) => `"${c}"`).join(', ')}`,
        )
    }
    const order = ordinal ? [`${ordinal} ${dir}`] : []
    for (let i = 1; i <= groupBy.length; i++) if (i !== ordinal) order.push(`${i} ASC`)
    if (order.length) sql += ` ORDER BY ${order.join(', ')}`
  } else if (query.orderBy) {
    sql += ` ORDER BY ${col(resolve(query.orderBy.column, 'orderBy.column'))} ${dir}, idx ASC`
  } else {
    sql += ' ORDER BY idx ASC'
  }
  sql += ` LIMIT ${bind(limit)}`
  return { sql, args, columns, mode: aggregated ? 'aggregate' : 'rows' }
}

/**
 * One where condition. Template literals evaluate left to right, so each `col()`/`bind()` call
 * binds its parameter in the same order as its `?` appears in the SQL.
 */
function compileCondition(
  condition: WhereCondition,
  i: number,
  resolve: (name: string, where: string) => DatasetColumn,
  col: (c: DatasetColumn) => string,
  bind: (value: string | number) => string,
): string {
  const at = `where[${i}]`
  const column = resolve(condition.column, `${at}.column`)
  const op = condition.op
  if (!(WHERE_OPS as readonly string[]).includes(op))
    throw new DatasetQueryError(`${at}.op must be one of ${WHERE_OPS.join(' ')}`)
  const value = condition.value

  if (value === null || value === undefined) {
    if (op === '=') return `${col(column)} IS NULL`
    if (op === '!=') return `${col(column)} IS NOT NULL`
    throw new DatasetQueryError(`${at}: ${op} needs a value`)
  }
  if (op === 'contains') {
    // instr, not LIKE: % and _ in the value are plain characters.
    return `instr(lower(CAST(${col(column)} AS TEXT)), lower(${bind(String(value))})) > 0`
  }
  if (column.type === 'number') {
    const number =
      typeof value === 'number'
        ? value
        : typeof value === 'string' && value.trim() !== ''
          ? Number(value.trim().replace(/,/g, ''))
          : NaN
    if (!Number.isFinite(number)) {
      throw new DatasetQueryError(
        `${at}: column "${column.name}" holds numbers, but the value ${JSON.stringify(value)} is not a number`,
      )
    }
    return `${col(column)} ${op} ${bind(number)}`
  }
  // Text equality ignores (ASCII) case: a model asking for "north" means "North".
  const collate = op === '=' || op === '!=' ? ' COLLATE NOCASE' : ''
  return `${col(column)} ${op} ${bind(String(value))}${collate}`
}

function columnResolver(columns: readonly DatasetColumn[]) {
  return (name: string, where: string): DatasetColumn => {
    if (typeof name !== 'string' || name === '') throw new DatasetQueryError(`${where} must name a column`)
    const exact = columns.find((c) => c.name === name)
    if (exact) return exact
    const loose = columns.filter((c) => c.name.toLowerCase() === name.trim().toLowerCase())
    if (loose.length === 1) return loose[0]
    throw new DatasetQueryError(
      `unknown column "${name.slice(0, 100)}" in ${where}; the dataset's columns are ${columns.map((c) => `"${c.name}"`).join(', ')}`,
    )
  }
}

function numberColumns(columns: readonly DatasetColumn[]): string {
  const numbers = columns.filter((c) => c.type === 'number').map((c) => `"${c.name}"`)
  return numbers.length ? `number columns: ${numbers.join(', ')}` : 'this dataset has no number columns'
}

/** Numbers as JSON numbers, floating noise rounded away (0.30000000000000004 → 0.3). */
function tidy(value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value)
  if (typeof value === 'number' && !Number.isInteger(value)) return Number(value.toPrecision(15))
  return value ?? null
}

/**
 * Turns the statement's raw rows into `{columns, rows}` objects keyed by the result column names.
 * The objects have no prototype, so a column named `__proto__` is a key like any other.
 */
export function shapeResult(
  compiled: CompiledQuery,
  raw: Record<string, unknown>[],
): { columns: string[]; rows: Record<string, unknown>[] } {
  if (compiled.mode === 'rows') {
    const rows = raw.map((r) => {
      const data = JSON.parse(String(r.data)) as Record<string, unknown>
      const row: Record<string, unknown> = Object.create(null)
      for (const name of compiled.columns) row[name] = tidy(data[name])
      return row
    })
    return { columns: compiled.columns, rows }
  }
  const rows = raw.map((r) => {
    const row: Record<string, unknown> = Object.create(null)
    compiled.columns.forEach((name, i) => {
      row[name] = tidy(r[`c${i}`])
    })
    return row
  })
  return { columns: compiled.columns, rows }
}
