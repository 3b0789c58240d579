/**
 * Columns named like members of a JavaScript object (`__proto__`, `constructor`, `toString`)
 * are columns like any other: their values survive the upload, the preview and the
 * `query_dataset` tool (rows, where, groupBy, orderBy).
 */
import { beforeAll, describe, expect, test } from 'bun:test'
import { createUserContext } from '../../../src/context/user-context'
import type { ToolOutcome } from '../../../src/tools/types'
import { expectJson } from '../../support/http'
import { useTestServer } from '../../support/fixtures'

const {
  server,
  users: [alice],
  as,
} = useTestServer({ users: ['names-alice'] })

// Named through a variable: `row.__proto__` would read the prototype if a row had one.
const PROTO = '__proto__'
const CSV = '__proto__,constructor,toString,n\nsecret,c1,t1,1\nother,,t2,2\nsecret,c3,,3\n'
let datasetId = ''

beforeAll(async () => {
  datasetId = (await expectJson(await as(alice)('/api/datasets', { body: { name: 'proto', csv: CSV } }), 201)).dataset
    .id
})

async function query(args: Record<string, unknown>): Promise<{ columns: string[]; rows: Record<string, unknown>[] }> {
  const context = createUserContext({ userId: alice.id, role: 'member', runId: `run-${crypto.randomUUID()}` })
  try {
    const outcome: ToolOutcome = await context.run(() =>
      server.services.tools.call(
        'query_dataset',
        { dataset: datasetId, ...args },
        { signal: new AbortController().signal },
      ),
    )
    if (!outcome.ok) throw new Error(`tool failed: ${JSON.stringify(outcome.error)}`)
    return outcome.result as { columns: string[]; rows: Record<string, unknown>[] }
  } finally {
    await context.dispose()
  }
}

/** The rows as [__proto__, constructor, toString, n] — own keys only. */
const cells = (rows: Record<string, unknown>[]) =>
  rows.map((r) => ['__proto__', 'constructor', 'toString', 'n'].map((k) => (Object.hasOwn(r, k) ? r[k] : 'MISSING')))

const EXPECTED = [
  ['secret', 'c1', 't1', 1],
  ['other', null, 't2', 2],
  ['secret', 'c3', null, 3],
]

describe('columns named like object members', () => {
  test('the preview keeps their values', async () => {
    const detail = await expectJson(await as(alice)(`/api/datasets/${datasetId}`))
    expect(detail.dataset.columns.map((c: { name: string }) => c.name)).toEqual([PROTO, 'constructor', 'toString', 'n'])
    expect(cells(detail.rows)).toEqual(EXPECTED)
  })

  test('query_dataset returns their values in rows', async () => {
    const result = await query({})
    expect(result.columns).toEqual([PROTO, 'constructor', 'toString', 'n'])
    expect(cells(result.rows)).toEqual(EXPECTED)
    // What the model is shown: the values are in the JSON.
    expect(JSON.stringify(result.rows[0])).toBe('{"__proto__":"secret","constructor":"c1","toString":"t1","n":1}')
  })

  test('query_dataset filters, groups and orders by them', async () => {
    const where = await query({
      where: [{ column: PROTO, op: '=', value: 'secret' }],
      aggregate: { fn: 'sum', column: 'n' },
    })
    expect(where.rows).toEqual([{ sum_n: 4 }])
    const grouped = await query({ groupBy: [PROTO], aggregate: { fn: 'count' } })
    expect(grouped.columns).toEqual([PROTO, 'count'])
    expect(grouped.rows.map((r) => [r[PROTO], r.count])).toEqual([
      ['other', 1],
      ['secret', 2],
    ])
    const ordered = await query({ orderBy: { column: 'constructor', dir: 'desc' }, limit: 1 })
    expect(ordered.rows[0]['constructor' as string]).toBe('c3')
  })
})
