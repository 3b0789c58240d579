/**
 * CSV parsing runs on a worker thread (src/datasets/csv-reader.ts): while a 5 MB CSV of 100k rows
 * × 25 columns is parsed and its types inferred, the server still answers /health — before the
 * dataset's rows reach the write queue, and for a refused CSV before the refusal.
 *
 * The upload is started through the service the route calls, not over HTTP: over HTTP the test
 * cannot know when the server has the whole body and has checked the token, and a /health sent
 * before that is answered before parsing starts even when parsing blocks the thread (tried: it
 * passed on the blocking code). Called directly, a parse on the server's own thread is over
 * before `create()` returns, so /health, sent right after, can only be answered after it.
 */
import { describe, expect, test } from 'bun:test'
import { createUserContext } from '../../../src/context/user-context'
import { DEFAULT_CSV_LIMITS } from '../../../src/datasets/csv'
import { expectJson } from '../../support/http'
import { useTestServer } from '../../support/fixtures'

const {
  server,
  users: [alice],
  as,
} = useTestServer({ users: ['parse-alice'] })

// The reviewer's ordinary shape: 25 short columns of digits, about 5 MB at 100k rows.
const COLUMNS = Array.from({ length: 25 }, (_, i) => `c${i}`)
const LINE = COLUMNS.map((_, i) => String(i % 10)).join(',')
const csvOf = (rows: number) => [COLUMNS.join(','), ...Array.from({ length: rows }, () => LINE)].join('\n')

/** Starts `create` as alice; the promise is returned as soon as create() returns. */
function startCreate(name: string, csv: string) {
  const context = createUserContext({ userId: alice.id, role: 'member' })
  const created = context.run(() => server.services.datasets.create({ name, csv }))
  return created.finally(() => context.dispose())
}

const health = (order: string[]) =>
  fetch(`${server.url}/health`).then((res) => {
    order.push('health')
    return res
  })

describe('parsing a CSV off the server thread', () => {
  test('a 5 MB CSV of 100k rows: /health, sent right after the upload starts, is answered before its rows are written', async () => {
    const csv = csvOf(DEFAULT_CSV_LIMITS.maxRows)
    expect(Buffer.byteLength(csv)).toBeGreaterThan(4.5 * 1024 * 1024)
    expect(Buffer.byteLength(csv)).toBeLessThanOrEqual(DEFAULT_CSV_LIMITS.maxBytes)
    const order: string[] = []
    const { writes } = server.services.database
    expect(writes.pending).toBe(0)
    const created = startCreate('ordinary', csv).then((dataset) => {
      order.push('created')
      return dataset
    })
    const answered = health(order)
    // The parsed rows reach the write queue: parsing is over.
    while (writes.pending === 0 && !order.includes('created')) await new Promise((resolve) => setImmediate(resolve))
    order.push('parsed')
    expect((await answered).status).toBe(200)
    const dataset = await created
    expect(order).toEqual(['health', 'parsed', 'created'])

    // Parsed as before: every column a number, every row stored.
    expect(dataset.rowCount).toBe(DEFAULT_CSV_LIMITS.maxRows)
    expect(dataset.columns).toEqual(COLUMNS.map((name) => ({ name, type: 'number' })))
    const preview = await expectJson(await as(alice)(`/api/datasets/${dataset.id}`))
    expect(preview.rows[0]).toEqual(Object.fromEntries(COLUMNS.map((name, i) => [name, i % 10])))
  })

  test('a refused CSV (one row too many) costs the server thread nothing: /health is answered before the refusal', async () => {
    const order: string[] = []
    const refused = startCreate('too-long', csvOf(DEFAULT_CSV_LIMITS.maxRows + 1)).then(
      () => order.push('created'),
      (error) => {
        order.push('refused')
        return error
      },
    )
    expect((await health(order)).status).toBe(200)
    const error = await refused
    expect(order).toEqual(['health', 'refused'])
    expect(error).toMatchObject({ status: 413, code: 'dataset_too_large' })
    expect(error.message).toBe(`the CSV has more than ${DEFAULT_CSV_LIMITS.maxRows} rows`)
  })
})
