/**
 * The stored-size limit of /api/datasets over real HTTP: every stored row repeats every column
 * name, so a small CSV with long names and many rows is refused (413, nothing stored) however
 * few bytes it has; one just within the limit is stored and queryable, and is written in chunks
 * that let other requests through.
 */
import { describe, expect, test } from 'bun:test'
import { createUserContext } from '../../../src/context/user-context'
import { DEFAULT_CSV_LIMITS } from '../../../src/datasets/csv'
import type { ToolOutcome } from '../../../src/tools/types'
import type { TestUser } from '../../support/users'
import { expectError, expectJson } from '../../support/http'
import { useTestServer } from '../../support/fixtures'

const {
  server,
  users: [alice],
  as,
} = useTestServer({ users: ['stored-alice'] })

// The reviewer's shape: 100 columns with 200-character names, rows of empty cells and a 1.
const NAMES = Array.from({ length: 100 }, (_, i) => `${String(i).padStart(3, '0')}${'n'.repeat(197)}`)
const LINE = `${','.repeat(99)}1`
const csvOf = (rows: number) => [NAMES.join(','), ...Array.from({ length: rows }, () => LINE)].join('\n')
/** One stored row, as JSON: the 100 names, 99 nulls and the 1. */
const ROW_BYTES = JSON.stringify(Object.fromEntries(NAMES.map((n, i) => [n, i === 99 ? 1 : null]))).length
/** The most rows of this shape that fit the stored-size limit. */
const EDGE_ROWS = Math.floor(DEFAULT_CSV_LIMITS.maxStoredBytes / ROW_BYTES)

async function storedRows(): Promise<number> {
  const { rows } = await server.services.database.client.execute({
    sql: 'SELECT count(*) AS n FROM dataset_rows WHERE user_id = ?',
    args: [alice.id],
  })
  return Number((rows[0] as unknown as { n: number }).n)
}

async function queryTool(user: TestUser, args: unknown): Promise<any> {
  const context = createUserContext({ userId: user.id, role: 'member', runId: `run-${crypto.randomUUID()}` })
  try {
    const outcome: ToolOutcome = await context.run(() =>
      server.services.tools.call('query_dataset', args, { signal: new AbortController().signal }),
    )
    if (!outcome.ok) throw new Error(`tool failed: ${JSON.stringify(outcome.error)}`)
    return outcome.result
  } finally {
    await context.dispose()
  }
}

describe('the stored-size limit', () => {
  test("the reviewer's 1 MB CSV of long names is 413 dataset_too_large, saying by how much; nothing is stored", async () => {
    const csv = csvOf(10_000)
    expect(Buffer.byteLength(csv)).toBeLessThan(DEFAULT_CSV_LIMITS.maxBytes)
    const before = await storedRows()
    const body = await expectError(
      await as(alice)('/api/datasets', { body: { name: 'long-names', csv } }),
      413,
      'dataset_too_large',
    )
    // 10,000 rows of 20,798 bytes: 198.3 MB stored, against 20 MB allowed.
    expect(ROW_BYTES).toBe(20_798)
    expect(body.error.message).toContain('would take 198.3 MB')
    expect(body.error.message).toContain('at most 20 MB is allowed, 178.3 MB over')
    const listed = (await expectJson(await as(alice)('/api/datasets'))).datasets.map((d: any) => d.name)
    expect(listed).not.toContain('long-names')
    expect(await storedRows()).toBe(before)
  })

  test('at the edge: the most rows that fit are stored and queryable; one more row is refused', async () => {
    expect(EDGE_ROWS * ROW_BYTES).toBeLessThanOrEqual(DEFAULT_CSV_LIMITS.maxStoredBytes)
    expect((EDGE_ROWS + 1) * ROW_BYTES).toBeGreaterThan(DEFAULT_CSV_LIMITS.maxStoredBytes)
    const over = await expectError(
      await as(alice)('/api/datasets', { body: { name: 'edge-over', csv: csvOf(EDGE_ROWS + 1) } }),
      413,
      'dataset_too_large',
    )
    // 1,009 rows of 20,798 bytes against 20 MiB: 13,662 bytes over.
    expect(EDGE_ROWS).toBe(1008)
    expect(over.error.message).toContain('at most 20 MB is allowed, 13.3 KB over')

    const dataset = (
      await expectJson(await as(alice)('/api/datasets', { body: { name: 'edge', csv: csvOf(EDGE_ROWS) } }), 201)
    ).dataset
    expect(dataset.rowCount).toBe(EDGE_ROWS)
    const { rows } = await server.services.database.client.execute({
      sql: 'SELECT count(*) AS n, sum(length(data)) AS bytes FROM dataset_rows WHERE dataset_id = ?',
      args: [dataset.id],
    })
    expect({ ...(rows[0] as object) }).toEqual({ n: EDGE_ROWS, bytes: EDGE_ROWS * ROW_BYTES })

    const counted = await queryTool(alice, {
      dataset: 'edge',
      where: [{ column: NAMES[99], op: '=', value: 1 }],
      aggregate: { fn: 'count' },
    })
    expect(counted.rows).toEqual([{ count: EDGE_ROWS }])
    const last = await queryTool(alice, { dataset: 'edge', orderBy: { column: NAMES[99], dir: 'desc' }, limit: 1 })
    expect(last.rows[0][NAMES[99]]).toBe(1)
    expect(last.rows[0][NAMES[0]]).toBeNull()
  })

  test('a large dataset is stored completely, and /health is answered while it is being written', async () => {
    const order: string[] = []
    const upload = as(alice)('/api/datasets', { body: { name: 'chunked', csv: csvOf(EDGE_ROWS) } }).then((res) => {
      order.push('upload')
      return res
    })
    // Wait, a turn of the event loop at a time, until the upload's write is in the write queue,
    // then ask for /health: its answer must not wait for the whole dataset to be written.
    const { writes } = server.services.database
    while (writes.pending === 0 && order.length === 0) await new Promise((resolve) => setImmediate(resolve))
    const health = fetch(`${server.url}/health`).then((res) => {
      order.push('health')
      return res
    })
    expect((await health).status).toBe(200)
    const dataset = (await expectJson(await upload, 201)).dataset
    expect(order).toEqual(['health', 'upload'])
    const { rows } = await server.services.database.client.execute({
      sql: 'SELECT count(*) AS n, min(idx) AS lo, max(idx) AS hi FROM dataset_rows WHERE dataset_id = ?',
      args: [dataset.id],
    })
    expect({ ...(rows[0] as object) }).toEqual({ n: EDGE_ROWS, lo: 0, hi: EDGE_ROWS - 1 })
  })
})
