/**
 * /api/datasets over real HTTP (PROTOCOL.md §2): upload a CSV (types inferred), list, preview,
 * delete, errors (bad CSV 400, duplicate name 409, too large 413), and isolation between users.
 */
import { describe, expect, test } from 'bun:test'
import type { TestUser } from '../../support/users'
import { expectError, expectJson, expectUnauthorized } from '../../support/http'
import {
  generatedCsv,
  OTHER_SALES_CSV,
  SALES_COLUMNS,
  SALES_CSV,
  SALES_FIRST_ROW,
  SALES_ROW_COUNT,
} from '../../support/data'
import { useTestServer } from '../../support/fixtures'

const {
  server,
  users: [alice, bob],
  as,
} = useTestServer({ users: ['ds-alice', 'ds-bob'] })

const upload = async (user: TestUser, name: string, csv: string) =>
  (await expectJson(await as(user)('/api/datasets', { body: { name, csv } }), 201)).dataset

describe('upload and read', () => {
  test('a sales CSV is stored with inferred column types and its rows', async () => {
    const dataset = await upload(alice, 'sales', SALES_CSV)
    expect(Object.keys(dataset).sort()).toEqual(['columns', 'createdAt', 'id', 'name', 'rowCount'])
    expect(dataset).toMatchObject({ name: 'sales', rowCount: SALES_ROW_COUNT, columns: SALES_COLUMNS })

    const listed = (await expectJson(await as(alice)('/api/datasets'))).datasets
    expect(listed).toContainEqual(dataset)

    const detail = await expectJson(await as(alice)(`/api/datasets/${dataset.id}`))
    expect(detail.dataset).toEqual(dataset)
    expect(detail.rows).toHaveLength(SALES_ROW_COUNT)
    expect(detail.rows[0]).toEqual(SALES_FIRST_ROW)
    expect(detail.rows.map((r: any) => r.amount).every((v: unknown) => typeof v === 'number')).toBe(true)
  })

  test('the preview holds the first 100 rows in file order; rowCount counts all (stored in several chunks)', async () => {
    const dataset = await upload(alice, 'big', generatedCsv(12_345))
    expect(dataset.rowCount).toBe(12_345)
    const detail = await expectJson(await as(alice)(`/api/datasets/${dataset.id}`))
    expect(detail.rows).toHaveLength(100)
    expect(detail.rows.map((r: any) => r.id)).toEqual(Array.from({ length: 100 }, (_, i) => i))
    const stored = await server.services.database.client.execute({
      sql: `SELECT count(*) AS n, min(idx) AS lo, max(idx) AS hi, sum(json_extract(data, '$."id"') = idx) AS aligned, count(DISTINCT user_id) AS owners FROM dataset_rows WHERE dataset_id = ?`,
      args: [dataset.id],
    })
    const [row] = stored.rows as unknown as Record<string, unknown>[]
    expect({ n: row.n, lo: row.lo, hi: row.hi, aligned: row.aligned, owners: row.owners }).toEqual({
      n: 12_345,
      lo: 0,
      hi: 12_344,
      aligned: 12_345,
      owners: 1,
    })
  })

  test('delete removes the dataset and its rows', async () => {
    const dataset = await upload(alice, 'temporary', SALES_CSV)
    const res = await as(alice)(`/api/datasets/${dataset.id}`, { method: 'DELETE' })
    expect(res.status).toBe(204)
    await expectError(await as(alice)(`/api/datasets/${dataset.id}`), 404, 'not_found')
    await expectError(await as(alice)(`/api/datasets/${dataset.id}`, { method: 'DELETE' }), 404, 'not_found')
    expect((await expectJson(await as(alice)('/api/datasets'))).datasets.map((d: any) => d.id)).not.toContain(
      dataset.id,
    )
    const left = await server.services.database.client.execute({
      sql: 'SELECT count(*) AS n FROM dataset_rows WHERE dataset_id = ?',
      args: [dataset.id],
    })
    expect(Number(left.rows[0].n)).toBe(0)
    // The name is free again.
    await upload(alice, 'temporary', SALES_CSV)
  })
})

describe('errors', () => {
  test('a duplicate name (any case) is 409 dataset_exists', async () => {
    await upload(alice, 'Quarterly', SALES_CSV)
    await expectError(
      await as(alice)('/api/datasets', { body: { name: 'Quarterly', csv: SALES_CSV } }),
      409,
      'dataset_exists',
    )
    await expectError(
      await as(alice)('/api/datasets', { body: { name: ' quarterly ', csv: SALES_CSV } }),
      409,
      'dataset_exists',
    )
    // Another user may use the same name.
    await upload(bob, 'Quarterly', OTHER_SALES_CSV)
  })

  test('bad CSV is 400 invalid_input with a clear message', async () => {
    const ragged = await expectError(
      await as(alice)('/api/datasets', { body: { name: 'ragged', csv: 'a,b\n1,2\n3\n' } }),
      400,
      'invalid_input',
    )
    expect(ragged.error.message).toContain('line 3')
    const dup = await expectError(
      await as(alice)('/api/datasets', { body: { name: 'dup', csv: 'a,a\n1,2\n' } }),
      400,
      'invalid_input',
    )
    expect(dup.error.message).toContain('twice')
    await expectError(await as(alice)('/api/datasets', { body: { name: 'empty', csv: '' } }), 400, 'invalid_input')
    await expectError(
      await as(alice)('/api/datasets', { body: { name: 'headless', csv: 'a,,b\n1,2,3\n' } }),
      400,
      'invalid_input',
    )
    await expectError(await as(alice)('/api/datasets', { body: { name: '', csv: SALES_CSV } }), 400, 'invalid_input')
    await expectError(await as(alice)('/api/datasets', { body: { name: '   ', csv: SALES_CSV } }), 400, 'invalid_input')
    await expectError(await as(alice)('/api/datasets', { body: { name: 'no-csv' } }), 400, 'invalid_input')
    // Nothing half-stored.
    const names = (await expectJson(await as(alice)('/api/datasets'))).datasets.map((d: any) => d.name)
    for (const name of ['ragged', 'dup', 'empty', 'headless', 'no-csv']) expect(names).not.toContain(name)
  })

  test('a CSV over 5 MB is 413', async () => {
    const csv = 'a,b\n' + 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx,1\n'.repeat(110_000)
    expect(Buffer.byteLength(csv)).toBeGreaterThan(5 * 1024 * 1024)
    const res = await expectError(await as(alice)('/api/datasets', { body: { name: 'huge', csv } }), 413)
    expect(res.error.message).toContain('MB')
  })

  test('every route needs a token', async () => {
    await expectUnauthorized(server, [
      '/api/datasets',
      ['/api/datasets', { body: { name: 'x', csv: SALES_CSV } }],
      '/api/datasets/x',
      ['/api/datasets/x', { method: 'DELETE' }],
    ])
  })
})

describe('isolation', () => {
  test("another user's dataset is 404 for GET and DELETE and invisible in lists", async () => {
    const secret = await upload(alice, 'alice-only', 'secret,value\nlaunch-code,1234\n')
    const bobList = (await expectJson(await as(bob)('/api/datasets'))).datasets
    expect(bobList.map((d: any) => d.id)).not.toContain(secret.id)
    expect(JSON.stringify(bobList)).not.toContain('alice-only')

    const get = await expectError(await as(bob)(`/api/datasets/${secret.id}`), 404, 'not_found')
    expect(JSON.stringify(get)).not.toContain('launch-code')
    await expectError(await as(bob)(`/api/datasets/${secret.id}`, { method: 'DELETE' }), 404, 'not_found')

    // Still there for its owner, rows intact.
    const detail = await expectJson(await as(alice)(`/api/datasets/${secret.id}`))
    expect(detail.rows).toEqual([{ secret: 'launch-code', value: 1234 }])
  })
})
