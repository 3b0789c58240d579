import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import {
  compileDatasetQuery,
  jsonPath,
  shapeResult,
  type DatasetQuery,
} from '../../../src/db/repositories/dataset-query'
import type { DatasetColumn } from '../../../src/db/schema'
import { asUser } from '../../support/db'
import { openToolStack, type ToolStack } from '../../support/tool-stack'
import { SALES_AMOUNT_BY_REGION, SALES_COLUMNS, SALES_CSV } from '../../support/data'

const columns: DatasetColumn[] = SALES_COLUMNS.map((c) => ({ ...c }))
const scope = { userId: 'user-1', datasetId: 'ds-1', columns }
const compile = (query: DatasetQuery) => compileDatasetQuery(query, scope)
const compileError = (query: DatasetQuery): string => {
  try {
    compile(query)
  } catch (error) {
    return (error as Error).message
  }
  throw new Error('expected the query to be refused')
}

const HOSTILE = [
  `x' OR '1'='1`,
  `"); DROP TABLE dataset_rows; --`,
  `North' UNION SELECT password_hash FROM users --`,
  `$.region`,
  `%`,
  `\\"`,
]

describe('compilation', () => {
  test('user and dataset are always bound in the WHERE', () => {
    for (const query of [
      {},
      { groupBy: ['region'] },
      { aggregate: { fn: 'count' as const } },
      { where: [{ column: 'region', op: '=' as const, value: 'North' }] },
    ]) {
      const compiled = compile(query)
      expect(compiled.sql).toContain('WHERE user_id = ? AND dataset_id = ?')
      expect(compiled.args).toContain('user-1')
      expect(compiled.args).toContain('ds-1')
      expect(compiled.sql).not.toContain('user-1')
    }
  })

  test('plain rows: all columns, file order, default limit 100', () => {
    const compiled = compile({})
    expect(compiled.mode).toBe('rows')
    expect(compiled.columns).toEqual(['date', 'region', 'product', 'units', 'amount'])
    expect(compiled.sql).toBe(
      'SELECT data FROM dataset_rows WHERE user_id = ? AND dataset_id = ? ORDER BY idx ASC LIMIT ?',
    )
    expect(compiled.args).toEqual(['user-1', 'ds-1', 100])
  })

  test('group + aggregate: one statement, JSON paths bound, ordinals for GROUP/ORDER BY', () => {
    const compiled = compile({
      groupBy: ['region'],
      aggregate: { fn: 'sum', column: 'amount' },
      orderBy: { column: 'sum_amount', dir: 'desc' },
      limit: 10,
    })
    expect(compiled.columns).toEqual(['region', 'sum_amount'])
    expect(compiled.sql).toBe(
      'SELECT json_extract(data, ?) AS c0, sum(json_extract(data, ?)) AS c1 FROM dataset_rows WHERE user_id = ? AND dataset_id = ? GROUP BY 1 ORDER BY 2 DESC, 1 ASC LIMIT ?',
    )
    expect(compiled.args).toEqual(['$."region"', '$."amount"', 'user-1', 'ds-1', 10])
  })

  test('where conditions bind path then value, in SQL order', () => {
    const compiled = compile({
      where: [
        { column: 'region', op: '=', value: 'North' },
        { column: 'amount', op: '>=', value: '400' },
        { column: 'product', op: 'contains', value: 'dg' },
        { column: 'units', op: '!=', value: null },
      ],
    })
    expect(compiled.sql).toContain('json_extract(data, ?) = ? COLLATE NOCASE')
    expect(compiled.sql).toContain('json_extract(data, ?) >= ?')
    expect(compiled.sql).toContain('instr(lower(CAST(json_extract(data, ?) AS TEXT)), lower(?)) > 0')
    expect(compiled.sql).toContain('json_extract(data, ?) IS NOT NULL')
    expect(compiled.args).toEqual([
      'user-1',
      'ds-1',
      '$."region"',
      'North',
      '$."amount"',
      400,
      '$."product"',
      'dg',
      '$."units"',
      100,
    ])
    expect(compiled.sql.split('?').length - 1).toBe(compiled.args.length)
  })

  test('count without a column is named count; with one, count_<column>', () => {
    expect(compile({ aggregate: { fn: 'count' } }).columns).toEqual(['count'])
    expect(compile({ groupBy: ['region', 'product'], aggregate: { fn: 'count', column: 'units' } }).columns).toEqual([
      'region',
      'product',
      'count_units',
    ])
    expect(compile({ groupBy: ['region'] }).columns).toEqual(['region'])
  })

  test('column names match exactly, or case-insensitively when unambiguous', () => {
    expect(compile({ groupBy: ['REGION'] }).columns).toEqual(['region'])
  })

  test('ordering a grouped result by the aggregated column means the aggregate', () => {
    expect(
      compile({
        groupBy: ['region'],
        aggregate: { fn: 'sum', column: 'amount' },
        orderBy: { column: 'amount', dir: 'desc' },
      }).sql,
    ).toContain('ORDER BY 2 DESC')
  })

  test('unknown columns are refused with the list of real ones', () => {
    for (const query of [
      { groupBy: ['country'] },
      { where: [{ column: 'country', op: '=' as const, value: 'x' }] },
      { aggregate: { fn: 'sum' as const, column: 'country' } },
      { orderBy: { column: 'country' } },
    ]) {
      const message = compileError(query)
      expect(message).toContain('unknown column "country"')
      expect(message).toContain('"region"')
    }
    expect(compileError({ groupBy: ['region'], orderBy: { column: 'units' } })).toContain('cannot order by "units"')
  })

  test('bad values and shapes are clear errors', () => {
    expect(compileError({ where: [{ column: 'amount', op: '>', value: 'lots' }] })).toContain('is not a number')
    expect(compileError({ where: [{ column: 'amount', op: '>', value: true }] })).toContain('is not a number')
    expect(compileError({ where: [{ column: 'amount', op: '>', value: null }] })).toContain('needs a value')
    expect(compileError({ aggregate: { fn: 'sum', column: 'region' } })).toContain('holds text')
    expect(compileError({ aggregate: { fn: 'avg' } })).toContain('needs a column')
    expect(compileError({ aggregate: { fn: 'drop' as any, column: 'amount' } })).toContain(
      'aggregate.fn must be one of',
    )
    expect(compileError({ where: [{ column: 'region', op: 'OR 1=1' as any, value: 'x' }] })).toContain(
      'op must be one of',
    )
    expect(compileError({ orderBy: { column: 'amount', dir: 'desc; DROP' as any } })).toContain('asc')
    expect(compileError({ limit: 0 })).toContain('limit')
    expect(compileError({ limit: 1001 })).toContain('limit')
    expect(compileError({ limit: 2.5 })).toContain('limit')
    expect(compileError({ groupBy: ['region', 'region'] })).toContain('twice')
  })

  test('hostile values never reach the SQL text', () => {
    for (const value of HOSTILE) {
      const compiled = compile({
        where: [
          { column: 'region', op: '=', value },
          { column: 'product', op: 'contains', value },
        ],
      })
      expect(compiled.sql).not.toContain(value)
      expect(compiled.args.filter((a) => a === value)).toHaveLength(2)
    }
  })

  test('hostile column names travel only as bound JSON paths', () => {
    const weird: DatasetColumn[] = [
      ...columns,
      ...HOSTILE.filter((n) => !n.includes('"')).map((name) => ({ name, type: 'text' as const })),
    ]
    for (const name of HOSTILE.filter((n) => !n.includes('"'))) {
      const compiled = compileDatasetQuery(
        { groupBy: [name], where: [{ column: name, op: '!=', value: 'z' }] },
        { ...scope, columns: weird },
      )
      expect(compiled.sql).not.toContain(name)
      expect(compiled.args).toContain(jsonPath(name))
      expect(compiled.columns).toEqual([name])
    }
  })

  test('JSON paths escape backslashes and refuse double quotes', () => {
    expect(jsonPath('amount')).toBe('$."amount"')
    expect(jsonPath('a\\b')).toBe('$."a\\\\b"')
    expect(jsonPath('a.b')).toBe('$."a.b"')
    expect(() => jsonPath('a"b')).toThrow('double quotes')
  })

  test('shapeResult keys aggregate rows by result names and tidies floats', () => {
    const compiled = compile({ groupBy: ['region'], aggregate: { fn: 'avg', column: 'amount' } })
    expect(shapeResult(compiled, [{ c0: 'North', c1: 0.1 + 0.2 }])).toEqual({
      columns: ['region', 'avg_amount'],
      rows: [{ region: 'North', avg_amount: 0.3 }],
    })
  })
})

describe('execution against SQLite', () => {
  let stack: ToolStack
  let datasetId: string
  const weirdName = `amount'); DROP TABLE dataset_rows; --`

  beforeAll(async () => {
    stack = await openToolStack({ users: 1 })
    datasetId = await asUser(stack.users[0], async () => {
      await stack.datasets.create({
        name: 'weird',
        csv: `region,${weirdName.includes(',') ? `"${weirdName}"` : weirdName}\nNorth,5\nSouth,7\n`,
      })
      return (await stack.datasets.create({ name: 'sales', csv: SALES_CSV })).id
    })
  })
  afterAll(() => stack.close())

  const run = (ref: string, query: DatasetQuery) => asUser(stack.users[0], () => stack.datasets.query(ref, query))

  test('sums per region are right', async () => {
    const result = await run(datasetId, { groupBy: ['region'], aggregate: { fn: 'sum', column: 'amount' } })
    expect(result.columns).toEqual(['region', 'sum_amount'])
    expect(Object.fromEntries(result.rows.map((r) => [r.region, r.sum_amount]))).toEqual(SALES_AMOUNT_BY_REGION)
  })

  test('hostile values match nothing and leave the tables intact', async () => {
    for (const value of HOSTILE) {
      expect((await run('sales', { where: [{ column: 'region', op: '=', value }] })).rows).toEqual([])
    }
    expect((await run('sales', { where: [{ column: 'region', op: 'contains', value: '%' }] })).rows).toEqual([])
    expect((await run('sales', { aggregate: { fn: 'count' } })).rows).toEqual([{ count: 8 }])
  })

  test('a column named like SQL is just a column', async () => {
    const result = await run('weird', { aggregate: { fn: 'sum', column: weirdName } })
    expect(result).toEqual({ columns: [`sum_${weirdName}`], rows: [{ [`sum_${weirdName}`]: 12 }] })
    expect((await run('sales', { aggregate: { fn: 'count' } })).rows).toEqual([{ count: 8 }])
  })
})
