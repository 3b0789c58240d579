/**
 * The built-in tools through the server's own dispatcher, as the run loop calls them: inside a
 * run context of the user who owns the run. Two users with data of the same names call the
 * same tools with the SAME arguments at the same time; each must see only their own data.
 */
import { beforeAll, describe, expect, test } from 'bun:test'
import type { TestUser } from '../../support/users'
import { expectJson } from '../../support/http'
import { createUserContext } from '../../../src/context/user-context'
import type { ToolOutcome } from '../../../src/tools/types'
import {
  OTHER_SALES_AMOUNT_BY_REGION,
  OTHER_SALES_CSV,
  SALES_AMOUNT_BY_REGION,
  SALES_COUNT_BY_REGION,
  SALES_CSV,
  SALES_TOTAL_AMOUNT,
  SALES_UNITS_BY_REGION,
} from '../../support/data'
import { useTestServer } from '../../support/fixtures'

const {
  server,
  users: [alice, bob],
} = useTestServer({ users: ['tools-alice', 'tools-bob'] })
beforeAll(async () => {
  const as = (user: TestUser) => (path: string, body: unknown) => server.api(path, { token: user.accessToken, body })
  await expectJson(await as(alice)('/api/datasets', { name: 'sales', csv: SALES_CSV }), 201)
  await expectJson(await as(bob)('/api/datasets', { name: 'sales', csv: OTHER_SALES_CSV }), 201)
  await expectJson(
    await as(alice)('/api/notes', { title: 'Project falcon', body: 'alice: falcon launches in March' }),
    201,
  )
  await expectJson(await as(bob)('/api/notes', { title: 'Project falcon', body: 'bob: falcon is cancelled' }), 201)
  // Chat history for search_history, written as a run would write it.
  for (const [user, text] of [
    [alice, 'alice asked about the zeppelin budget'],
    [bob, 'bob asked about the zeppelin schedule'],
  ] as const) {
    await runAs(user, async () => {
      const thread = await server.services.repos.threads.create('history')
      await server.services.repos.messages.add({ threadId: thread.id, role: 'user', content: text })
    })
  }
})

/** Runs `fn` in a run context of `user`, as the run manager does. */
async function runAs<T>(user: TestUser, fn: () => Promise<T>): Promise<T> {
  const context = createUserContext({ userId: user.id, role: 'member', runId: `run-${crypto.randomUUID()}` })
  try {
    return await context.run(fn)
  } finally {
    await context.dispose()
  }
}

const call = (user: TestUser, tool: string, args: unknown, allowed?: string[]) =>
  runAs(user, () =>
    server.services.tools.call(tool, args, { signal: new AbortController().signal, ...(allowed && { allowed }) }),
  )

const ok = (outcome: ToolOutcome): any => {
  if (!outcome.ok) throw new Error(`tool failed: ${JSON.stringify(outcome.error)}`)
  return outcome.result
}
const byRegion = (result: any, key: string) => Object.fromEntries(result.rows.map((r: any) => [r.region, r[key]]))

describe('isolation under concurrency', () => {
  test('same arguments, same time: each user sees only their own data', async () => {
    const calls = [
      ['list_datasets', {}],
      ['query_dataset', { dataset: 'sales', groupBy: ['region'], aggregate: { fn: 'sum', column: 'amount' } }],
      ['search_notes', { query: 'falcon' }],
      ['search_history', { query: 'zeppelin' }],
    ] as const
    const rounds = await Promise.all(
      Array.from({ length: 5 }, () =>
        Promise.all(
          [alice, bob].flatMap((user) =>
            calls.map(async ([tool, args]) => ({ user, tool, result: ok(await call(user, tool, args)) })),
          ),
        ),
      ),
    )
    for (const { user, tool, result } of rounds.flat()) {
      const mine = user === alice
      const text = JSON.stringify(result)
      switch (tool) {
        case 'list_datasets':
          expect(result.datasets).toHaveLength(1)
          expect(result.datasets[0]).toMatchObject({ name: 'sales', rowCount: mine ? 8 : 2 })
          break
        case 'query_dataset':
          expect(byRegion(result, 'sum_amount')).toEqual(mine ? SALES_AMOUNT_BY_REGION : OTHER_SALES_AMOUNT_BY_REGION)
          break
        case 'search_notes':
          expect(result.notes).toHaveLength(1)
          expect(text).toContain(mine ? 'launches in March' : 'is cancelled')
          expect(text).not.toContain(mine ? 'bob' : 'alice')
          break
        case 'search_history':
          expect(result.messages).toHaveLength(1)
          expect(result.messages[0].role).toBe('user')
          expect(text).toContain(mine ? 'budget' : 'schedule')
          expect(text).not.toContain(mine ? 'bob' : 'alice')
          break
      }
    }
  })

  test('a dataset id of another user is not found, even when passed explicitly', async () => {
    const alicesId = ok(await call(alice, 'list_datasets', {})).datasets[0].id
    const outcome = await call(bob, 'query_dataset', { dataset: alicesId })
    expect(outcome.ok).toBe(false)
    if (!outcome.ok) {
      expect(outcome.error.code).toBe('tool_error')
      expect(outcome.error.message).toContain('no dataset named')
      expect(outcome.error.message).not.toContain('1200')
    }
  })

  test('a note saved by one user is found by that user only', async () => {
    const saved = ok(await call(alice, 'save_note', { title: 'Quokka facts', body: 'quokkas live on Rottnest island' }))
    expect(saved).toEqual({ id: expect.any(String), title: 'Quokka facts' })
    expect(ok(await call(alice, 'search_notes', { query: 'quokka' })).notes).toEqual([
      { id: saved.id, title: 'Quokka facts', snippet: expect.stringContaining('Rottnest') },
    ])
    expect(ok(await call(bob, 'search_notes', { query: 'quokka' })).notes).toEqual([])
  })
})

describe('search_notes', () => {
  test('matches titles and bodies (stemmed), gives a snippet, honours limit; no words lists the newest', async () => {
    const title = ok(
      await call(bob, 'save_note', { title: 'Gardening checklist', body: 'water the tomatoes every morning' }),
    )
    ok(await call(bob, 'save_note', { title: 'Tomato recipes', body: 'roast them with garlic' }))
    const byTitle = ok(await call(bob, 'search_notes', { query: 'checklist' })).notes
    expect(byTitle).toEqual([
      { id: title.id, title: 'Gardening checklist', snippet: expect.stringContaining('tomatoes') },
    ])
    const stemmed = ok(await call(bob, 'search_notes', { query: 'tomato' })).notes
    expect(stemmed.map((n: any) => n.title).sort()).toEqual(['Gardening checklist', 'Tomato recipes'])
    expect(ok(await call(bob, 'search_notes', { query: 'tomato', limit: 1 })).notes).toHaveLength(1)
    const newest = ok(await call(bob, 'search_notes', { query: '' })).notes
    expect(newest[0].title).toBe('Tomato recipes')
    expect(newest.every((n: any) => !JSON.stringify(n).includes('alice'))).toBe(true)
    // FTS syntax in the query is plain text, not an operator.
    expect(ok(await call(bob, 'search_notes', { query: 'tomato* OR NEAR(" -falcon' })).notes.length).toBeGreaterThan(0)
  })
})

describe('query_dataset over the sales CSV', () => {
  test('group by region: sums, counts and units are right', async () => {
    const sums = ok(
      await call(alice, 'query_dataset', {
        dataset: 'sales',
        groupBy: ['region'],
        aggregate: { fn: 'sum', column: 'amount' },
        orderBy: { column: 'sum_amount', dir: 'desc' },
      }),
    )
    expect(sums.columns).toEqual(['region', 'sum_amount'])
    expect(sums.rows).toEqual([
      { region: 'North', sum_amount: 2050.71 },
      { region: 'East', sum_amount: 1860 },
      { region: 'South', sum_amount: 1650 },
      { region: 'West', sum_amount: 199.99 },
    ])
    expect(
      byRegion(
        ok(await call(alice, 'query_dataset', { dataset: 'sales', groupBy: ['region'], aggregate: { fn: 'count' } })),
        'count',
      ),
    ).toEqual(SALES_COUNT_BY_REGION)
    expect(
      byRegion(
        ok(
          await call(alice, 'query_dataset', {
            dataset: 'sales',
            groupBy: 'region',
            aggregate: { fn: 'SUM', column: 'units' },
          }),
        ),
        'sum_units',
      ),
    ).toEqual(SALES_UNITS_BY_REGION)
    expect(
      ok(await call(alice, 'query_dataset', { dataset: 'sales', aggregate: { fn: 'sum', column: 'amount' } })),
    ).toEqual({ columns: ['sum_amount'], rows: [{ sum_amount: SALES_TOTAL_AMOUNT }] })
  })

  test('filters, ordering and limits, with model-style arguments', async () => {
    const top = ok(
      await call(
        alice,
        'query_dataset',
        JSON.stringify({
          dataset: 'Sales',
          where: [{ column: 'region', op: '==', value: 'north' }],
          orderBy: { column: 'amount', dir: 'DESC' },
          limit: '2',
        }),
      ),
    )
    expect(top.columns).toEqual(['date', 'region', 'product', 'units', 'amount'])
    expect(top.rows.map((r: any) => r.amount)).toEqual([1200.5, 450.25])
    const big = ok(
      await call(alice, 'query_dataset', {
        dataset: 'sales',
        where: [
          { column: 'amount', op: '>', value: '900' },
          { column: 'product', op: 'contains', value: 'GET' },
        ],
        aggregate: { fn: 'count' },
      }),
    )
    expect(big.rows).toEqual([{ count: 3 }]) // 1200.50 Widget, 960 Widget, 1050 Gadget ("get" in both names)
  })

  test('unknown dataset or column is a tool error the model can act on', async () => {
    const noDataset = await call(alice, 'query_dataset', { dataset: 'revenue' })
    expect(noDataset).toMatchObject({
      ok: false,
      error: { code: 'tool_error', message: expect.stringContaining('"sales"') },
    })
    const noColumn = await call(alice, 'query_dataset', { dataset: 'sales', groupBy: ['country'] })
    expect(noColumn).toMatchObject({
      ok: false,
      error: { code: 'tool_error', message: expect.stringContaining('unknown column "country"') },
    })
    const badOp = await call(alice, 'query_dataset', {
      dataset: 'sales',
      where: [{ column: 'region', op: 'LIKE 1; --', value: 'x' }],
    })
    expect(badOp).toMatchObject({
      ok: false,
      error: { code: 'invalid_arguments', message: expect.stringContaining('where[0].op must be one of') },
    })
  })
})

describe('the other tools', () => {
  test('calculate', async () => {
    expect(ok(await call(alice, 'calculate', { expression: '2050.71 / 5760.7 * 100' }))).toEqual({
      value: 35.5982779870502,
    })
    expect(await call(alice, 'calculate', { expression: '1/0' })).toMatchObject({
      ok: false,
      error: { code: 'tool_error', message: 'division by zero' },
    })
    expect(await call(alice, 'calculate', { expression: 'process.exit(1)' })).toMatchObject({
      ok: false,
      error: { code: 'tool_error' },
    })
  })

  test('current_time: local wall time with offset in a validated zone', async () => {
    const before = Date.now()
    const tokyo = ok(await call(alice, 'current_time', { timezone: 'Asia/Tokyo' }))
    expect(tokyo.timezone).toBe('Asia/Tokyo')
    expect(tokyo.iso).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+09:00$/)
    expect(Math.abs(Date.parse(tokyo.iso) - before)).toBeLessThan(5000)
    const utc = ok(await call(alice, 'current_time', {}))
    expect(typeof utc.timezone).toBe('string')
    expect(Math.abs(Date.parse(utc.iso) - before)).toBeLessThan(5000)
    expect(await call(alice, 'current_time', { timezone: 'Mars/Olympus' })).toMatchObject({
      ok: false,
      error: { message: expect.stringContaining('unknown time zone') },
    })
  })

  test('list_datasets has exactly the protocol fields', async () => {
    const [dataset] = ok(await call(alice, 'list_datasets', {})).datasets
    expect(Object.keys(dataset).sort()).toEqual(['columns', 'id', 'name', 'rowCount'])
  })

  test("an agent's allowed list is enforced", async () => {
    const outcome = await call(alice, 'save_note', { title: 't', body: 'b' }, [
      'list_datasets',
      'query_dataset',
      'calculate',
    ])
    expect(outcome).toMatchObject({ ok: false, error: { code: 'unknown_tool' } })
  })
})
