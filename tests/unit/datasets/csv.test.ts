import { describe, expect, test } from 'bun:test'
import { DatasetTooLargeError, parseCsv, parseNumber } from '../../../src/datasets/csv'
import { InvalidInputError } from '../../../src/http/errors'
import { generatedCsv, SALES_COLUMNS, SALES_CSV, SALES_FIRST_ROW, SALES_ROW_COUNT } from '../../support/data'

function refused(csv: string, limits?: Parameters<typeof parseCsv>[1]): { status: number; message: string } {
  try {
    parseCsv(csv, limits)
  } catch (error) {
    expect(error instanceof InvalidInputError || error instanceof DatasetTooLargeError).toBe(true)
    return { status: (error as InvalidInputError).status, message: (error as Error).message }
  }
  throw new Error('expected the CSV to be refused')
}

describe('parseCsv', () => {
  test('the sales sample: header, inferred types, numbers converted', () => {
    const { columns, rows } = parseCsv(SALES_CSV)
    expect(columns).toEqual(SALES_COLUMNS.map((c) => ({ ...c })))
    expect(rows).toHaveLength(SALES_ROW_COUNT)
    expect(rows[0]).toEqual(SALES_FIRST_ROW)
    expect(typeof rows[0].amount).toBe('number')
  })

  test('cells and headers are trimmed; empty cells are null and do not spoil a number column', () => {
    const { columns, rows } = parseCsv(' name , score ,note\n alice , 10 , \nbob,,x\ncarol, 2.5e1 ,y\n')
    expect(columns).toEqual([
      { name: 'name', type: 'text' },
      { name: 'score', type: 'number' },
      { name: 'note', type: 'text' },
    ])
    expect(rows).toEqual([
      { name: 'alice', score: 10, note: null },
      { name: 'bob', score: null, note: 'x' },
      { name: 'carol', score: 25, note: 'y' },
    ])
  })

  test('one non-number makes the column text, and its values stay strings', () => {
    const { columns, rows } = parseCsv('code\n1\n2\nA3\n')
    expect(columns).toEqual([{ name: 'code', type: 'text' }])
    expect(rows.map((r) => r.code)).toEqual(['1', '2', 'A3'])
  })

  test('a column with only empty cells is text', () => {
    expect(parseCsv('a,b\n1,\n2,\n').columns).toEqual([
      { name: 'a', type: 'number' },
      { name: 'b', type: 'text' },
    ])
  })

  test('quoted fields, commas, newlines, a BOM and CRLF are handled', () => {
    const { columns, rows } = parseCsv(
      '\ufeffcity,"population, 2020",motto\r\n"Paris","2,148,000","Fluctuat nec\r\nmergitur"\r\nLyon,522250,"say ""hi"""\r\n',
    )
    expect(columns.map((c) => c.name)).toEqual(['city', 'population, 2020', 'motto'])
    expect(columns[1].type).toBe('number')
    expect(rows[0]).toEqual({ city: 'Paris', 'population, 2020': 2148000, motto: 'Fluctuat nec\r\nmergitur' })
    expect(rows[1].motto).toBe('say "hi"')
  })

  test('double quotes in a header become single quotes (SQLite JSON paths cannot hold them)', () => {
    expect(parseCsv('"size ""in""",x\n1,2\n').columns[0].name).toBe("size 'in'")
  })

  test('header problems are 400 errors with a clear message', () => {
    expect(refused('')).toEqual({ status: 400, message: expect.stringContaining('empty') })
    expect(refused('a,b\n')).toEqual({ status: 400, message: expect.stringContaining('no data rows') })
    expect(refused('a,,c\n1,2,3\n')).toEqual({
      status: 400,
      message: expect.stringContaining('column 2 of the header row has no name'),
    })
    expect(refused('a,b,A\n1,2,3\n')).toEqual({ status: 400, message: expect.stringContaining('"A" twice') })
    expect(refused(`${'x'.repeat(201)}\n1\n`).message).toContain('longer than')
  })

  test('broken rows are 400 errors naming the line', () => {
    expect(refused('a,b\n1,2\n3\n').message).toMatch(/different number of fields.*line 3/)
    expect(refused('a,b\n1,"2\n').message).toContain('never closed')
  })

  test('size limits are 413 errors', () => {
    expect(refused(generatedCsv(50), { maxBytes: 100, maxRows: 1000, maxColumns: 10, maxStoredBytes: 1e9 })).toEqual({
      status: 413,
      message: expect.stringContaining('MB'),
    })
    expect(refused(generatedCsv(11), { maxBytes: 1e6, maxRows: 10, maxColumns: 10, maxStoredBytes: 1e9 })).toEqual({
      status: 413,
      message: expect.stringContaining('more than 10 rows'),
    })
    expect(refused(generatedCsv(2, 11), { maxBytes: 1e6, maxRows: 10, maxColumns: 10, maxStoredBytes: 1e9 })).toEqual({
      status: 413,
      message: expect.stringContaining('11 columns'),
    })
    // Exactly at the limits is fine.
    expect(
      parseCsv(generatedCsv(10, 10), { maxBytes: 1e6, maxRows: 10, maxColumns: 10, maxStoredBytes: 1e9 }).rows,
    ).toHaveLength(10)
  })

  test('the stored size is limited: each stored row repeats every column name', () => {
    const names = Array.from({ length: 10 }, (_, i) => `${i}${'n'.repeat(49)}`)
    const csv = `${names.join(',')}\n${`${','.repeat(9)}1\n`.repeat(100)}`
    // Each row: 10 keys of 53 bytes ("…":), 9 commas, 2 braces, 9 nulls and a 1: 578 bytes.
    const limits = { maxBytes: 1e6, maxRows: 1000, maxColumns: 10, maxStoredBytes: 57_800 }
    expect(parseCsv(csv, limits).rows).toHaveLength(100)
    expect(JSON.stringify(parseCsv(csv, limits).rows).length).toBe(57_800 + 99 + 2)
    const over = refused(`${csv}${','.repeat(9)}1\n`, limits)
    expect(over.status).toBe(413)
    expect(over.message).toContain('would take 57 KB')
    expect(over.message).toContain('at most 56.4 KB is allowed, 578 bytes over')
    expect(over.message).toContain('10 column names')
  })

  test('columns named like Object members keep their values', () => {
    // Named through a variable: `r.__proto__` would read the prototype if the fix were undone.
    const proto = '__proto__'
    const { columns, rows } = parseCsv('__proto__,constructor,toString,b\nsecret,c,t,1\nother,,u,2\n')
    expect(columns.map((c) => c.name)).toEqual(['__proto__', 'constructor', 'toString', 'b'])
    expect(Object.keys(rows[0])).toEqual(['__proto__', 'constructor', 'toString', 'b'])
    expect(rows.map((r) => [r[proto], r.constructor, r.toString, r.b])).toEqual([
      ['secret', 'c', 't', 1],
      ['other', null, 'u', 2],
    ])
    expect(JSON.parse(JSON.stringify(rows[0]))).toEqual({
      [proto]: 'secret',
      constructor: 'c',
      toString: 't',
      b: 1,
    })
  })

  test('the default limits: 5 MB, 100k rows, 100 columns', () => {
    expect(refused('a\n' + '1\n'.repeat(3_000_000)).status).toBe(413)
    expect(refused(generatedCsv(100_001, 1)).message).toContain('100000 rows')
    expect(refused(generatedCsv(1, 101)).message).toContain('101 columns')
    expect(parseCsv(generatedCsv(100_000, 1)).rows).toHaveLength(100_000)
  })
})

describe('parseNumber', () => {
  test.each([
    ['42', 42],
    ['-3.5', -3.5],
    ['+7', 7],
    ['.5', 0.5],
    ['1e3', 1000],
    ['1,234,567.5', 1234567.5],
    ['abc', undefined],
    ['1,23', undefined],
    ['12abc', undefined],
    ['0x10', undefined],
    ['Infinity', undefined],
    ['NaN', undefined],
    ['1e999', undefined],
    ['', undefined],
  ])('%p → %p', (text, value) => {
    expect(parseNumber(text)).toBe(value as any)
  })
})
