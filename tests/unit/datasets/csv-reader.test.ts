/**
 * parseCsvInWorker (src/datasets/csv-reader.ts): the real worker gives what parseCsv gives, and
 * its refusals come back as the same errors with the same words; a worker that fails or never
 * answers is an error too, and its thread is ended.
 */
import { describe, expect, test } from 'bun:test'
import { DatasetTooLargeError, DEFAULT_CSV_LIMITS, parseCsv } from '../../../src/datasets/csv'
import { parseCsvInWorker } from '../../../src/datasets/csv-reader'
import { InvalidInputError } from '../../../src/http/errors'
import { generatedCsv, SALES_CSV } from '../../support/data'

/** What parseCsv throws for `csv`, to compare with what comes back from the worker. */
function thrownBy(csv: string, limits = DEFAULT_CSV_LIMITS): Error {
  try {
    parseCsv(csv, limits)
  } catch (error) {
    return error as Error
  }
  throw new Error('parseCsv accepted the CSV')
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (error) {
    return error as Error
  }
  throw new Error('the promise resolved')
}

/** A worker script made for the test, as a URL `new Worker` takes. */
const workerOf = (source: string) => URL.createObjectURL(new Blob([source], { type: 'application/javascript' }))

describe('parseCsvInWorker', () => {
  test('gives the columns and rows parseCsv gives', async () => {
    expect(await parseCsvInWorker(SALES_CSV)).toEqual(parseCsv(SALES_CSV))
  })

  test('columns named like Object members keep their values across the thread', async () => {
    const proto = '__proto__'
    const { rows } = await parseCsvInWorker('__proto__,constructor,b\nsecret,c,1\n')
    expect(Object.keys(rows[0])).toEqual(['__proto__', 'constructor', 'b'])
    expect([rows[0][proto], rows[0].constructor, rows[0].b]).toEqual(['secret', 'c', 1])
  })

  test('a bad CSV is the same 400 with the same message', async () => {
    for (const csv of ['', 'a,b\n1,2,3\n', 'a,b\n"1,2\n', 'a,a\n1,2\n', 'a,b\n']) {
      const error = await rejection(parseCsvInWorker(csv))
      expect(error).toBeInstanceOf(InvalidInputError)
      expect({ csv, message: error.message }).toEqual({ csv, message: thrownBy(csv).message })
    }
  })

  test('each limit is the same 413 dataset_too_large with the same message', async () => {
    const limits = { maxBytes: 1000, maxRows: 5, maxColumns: 3, maxStoredBytes: 100 }
    for (const csv of ['a\n' + '1\n'.repeat(600), generatedCsv(6, 1), generatedCsv(1, 4), generatedCsv(5, 3)]) {
      const error = await rejection(parseCsvInWorker(csv, limits))
      expect(error).toBeInstanceOf(DatasetTooLargeError)
      expect(error).toMatchObject({ status: 413, code: 'dataset_too_large' })
      expect(error.message).toBe(thrownBy(csv, limits).message)
    }
  })

  test('what is not text is refused as an empty CSV, without a worker', async () => {
    const error = await rejection(
      parseCsvInWorker(42 as unknown as string, DEFAULT_CSV_LIMITS, { workerUrl: 'nowhere' }),
    )
    expect(error).toBeInstanceOf(InvalidInputError)
    expect(error.message).toBe(thrownBy(42 as unknown as string).message)
  })

  test('a worker that throws is a plain error (a 500), not a refusal of the CSV', async () => {
    const workerUrl = workerOf('self.onmessage = () => { throw new Error("broken worker") }')
    const error = await rejection(parseCsvInWorker('a\n1\n', DEFAULT_CSV_LIMITS, { workerUrl }))
    expect(error).not.toBeInstanceOf(InvalidInputError)
    expect(error.message).toContain('the CSV worker failed')
  })

  test('a worker that never answers is ended at the time limit, and the next CSV gets its turn', async () => {
    const workerUrl = workerOf('self.onmessage = () => {}')
    const error = await rejection(
      parseCsvInWorker('a\n1\n', DEFAULT_CSV_LIMITS, { workerUrl, timeoutMs: 50, concurrency: 1 }),
    )
    expect(error).toBeInstanceOf(InvalidInputError)
    expect(error.message).toBe('the CSV took too long to read (over 0.05 s)')
    // Its turn was given back: with one worker allowed at a time, this one still runs.
    expect((await parseCsvInWorker('a\n1\n', DEFAULT_CSV_LIMITS, { concurrency: 1 })).rows).toEqual([{ a: 1 }])
  })
})
