/**
 * The MCP server at /mcp (PROTOCOL.md §7) driven by the official @modelcontextprotocol/sdk
 * client over Streamable HTTP: the exact tool list with the schemas of §4, every tool called,
 * and two keys of two users that only ever see their own notes and datasets.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { startChatStack, type ChatStack } from '../../support/chat-stack'
import { registerUser, type TestUser } from '../../support/users'
import { expectError, expectJson } from '../../support/http'
import { OTHER_SALES_CSV, SALES_AMOUNT_BY_REGION, SALES_CSV, SALES_ROW_COUNT } from '../../support/data'

setDefaultTimeout(30_000)

let stack: ChatStack
let alice: TestUser
let bob: TestUser
let aliceMcp: Client
let bobMcp: Client
const clients: Client[] = []

async function newKey(user: TestUser) {
  return (
    await expectJson<{ secret: string }>(
      await stack.server.api('/api/keys', { token: user.accessToken, body: { name: 'mcp' } }),
      201,
    )
  ).secret
}

async function connect(secret: string): Promise<Client> {
  const client = new Client({ name: 'test-client', version: '1.0.0' })
  const transport = new StreamableHTTPClientTransport(new URL(`${stack.server.url}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${secret}` } },
  })
  await client.connect(transport)
  clients.push(client)
  return client
}

/** A tool's structured result (its JSON), failing the test on a tool error. */
async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<any> {
  const result: any = await client.callTool({ name, arguments: args })
  expect({ name, isError: result.isError ?? false, content: result.content }).toMatchObject({ isError: false })
  expect(JSON.parse(result.content[0].text)).toEqual(result.structuredContent)
  return result.structuredContent
}

beforeAll(async () => {
  stack = await startChatStack()
  alice = await registerUser(stack.server, 'alice')
  bob = await registerUser(stack.server, 'bob')
  aliceMcp = await connect(await newKey(alice))
  bobMcp = await connect(await newKey(bob))
})
afterAll(async () => {
  for (const client of clients) await client.close().catch(() => {})
  await stack.close()
})

describe('tools/list', () => {
  test('exactly the user tools of §7 that exist, no transfers, with the schemas of §4', async () => {
    const { tools } = await aliceMcp.listTools()
    // search_documents joins the list when document search registers it (PROTOCOL.md §8).
    const documents = stack.server.services.tools.names().includes('search_documents') ? ['search_documents'] : []
    expect(tools.map((t) => t.name).sort()).toEqual(
      [
        'calculate',
        'current_time',
        'list_datasets',
        'query_dataset',
        'save_note',
        'search_history',
        'search_notes',
        ...documents,
      ].sort(),
    )
    for (const tool of tools) {
      // The same JSON schema the agents send to Ollama.
      expect(tool.inputSchema).toEqual(stack.server.services.tools.specs([tool.name])[0].function.parameters as any)
    }
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]))
    for (const tool of tools) {
      expect(tool.description!.length).toBeGreaterThan(10)
      expect(tool.inputSchema.type).toBe('object')
    }
    expect(byName.calculate.inputSchema.required).toEqual(['expression'])
    const argumentNames = (tool: string) => Object.keys(byName[tool].inputSchema.properties!).sort()
    expect(argumentNames('save_note')).toEqual(['body', 'title'])
    expect(argumentNames('search_notes')).toEqual(['limit', 'query'])
    expect(argumentNames('query_dataset')).toEqual(['aggregate', 'dataset', 'groupBy', 'limit', 'orderBy', 'where'])
    const where = (byName.query_dataset.inputSchema.properties as any).where
    expect(where.items.properties.op.enum).toEqual(['=', '!=', '<', '<=', '>', '>=', 'contains'])
  })
})

describe('tools/call, each tool', () => {
  test('calculate', async () => {
    expect(await call(aliceMcp, 'calculate', { expression: '2 + 3 * 4' })).toEqual({ value: 14 })
  })

  test('current_time', async () => {
    const result = await call(aliceMcp, 'current_time', { timezone: 'Europe/Paris' })
    expect(result.timezone).toBe('Europe/Paris')
    expect(Math.abs(Date.parse(result.iso) - Date.now())).toBeLessThan(60_000)
  })

  test('save_note and search_notes: the note lands in the user’s own notes', async () => {
    const saved = await call(aliceMcp, 'save_note', { title: 'Alice plan', body: 'buy saffron for the paella' })
    expect(Object.keys(saved).sort()).toEqual(['id', 'title'])
    expect(saved.title).toBe('Alice plan')
    const { notes } = await expectJson(await stack.server.api('/api/notes', { token: alice.accessToken }))
    expect(notes.map((n: any) => n.id)).toContain(saved.id)
    const found = await call(aliceMcp, 'search_notes', { query: 'saffron' })
    expect(found.notes.map((n: any) => n.id)).toEqual([saved.id])
    expect(found.notes[0].snippet).toContain('saffron')
  })

  test('search_history finds the user’s own messages', async () => {
    const res = await stack.server.api('/v1/chat/completions', {
      token: await newKey(alice),
      body: { model: 'llama3.2', messages: [{ role: 'user', content: 'the zucchini harvest was large' }] },
    })
    expect(res.status).toBe(200)
    const result = await call(aliceMcp, 'search_history', { query: 'zucchini' })
    expect(result.messages.length).toBeGreaterThan(0)
    expect(result.messages.every((m: any) => m.snippet.toLowerCase().includes('zucchini'))).toBe(true)
    expect((await call(bobMcp, 'search_history', { query: 'zucchini' })).messages).toEqual([])
  })

  test('list_datasets and query_dataset', async () => {
    await expectJson(
      await stack.server.api('/api/datasets', { token: alice.accessToken, body: { name: 'sales', csv: SALES_CSV } }),
      201,
    )
    const { datasets } = await call(aliceMcp, 'list_datasets')
    expect(datasets).toHaveLength(1)
    expect(datasets[0]).toMatchObject({ name: 'sales', rowCount: SALES_ROW_COUNT })
    const result = await call(aliceMcp, 'query_dataset', {
      dataset: 'sales',
      groupBy: ['region'],
      aggregate: { fn: 'sum', column: 'amount' },
      orderBy: { column: 'region' },
    })
    expect(result.columns).toEqual(['region', 'sum_amount'])
    expect(Object.fromEntries(result.rows.map((r: any) => [r.region, r.sum_amount]))).toEqual(SALES_AMOUNT_BY_REGION)
  })

  test('invalid arguments, a tool error and an unknown or transfer tool are tool errors, not protocol failures', async () => {
    for (const [name, args, code] of [
      ['calculate', {}, 'invalid_arguments'],
      ['calculate', { expression: 'process.exit()' }, 'tool_error'],
      ['query_dataset', { dataset: 'no-such-dataset' }, 'tool_error'],
      ['transfer_to_planner', { reason: 'x' }, 'unknown_tool'],
      ['rm_rf', {}, 'unknown_tool'],
    ] as const) {
      const result: any = await aliceMcp.callTool({ name, arguments: args })
      expect({ name, isError: result.isError }).toEqual({ name, isError: true })
      expect(JSON.parse(result.content[0].text).error.code).toBe(code)
    }
  })
})

describe('isolation between two keys of two users', () => {
  test('each sees only their own notes and datasets', async () => {
    await call(bobMcp, 'save_note', { title: 'Bob secret', body: 'the saffron is hidden in the blue jar' })
    await expectJson(
      await stack.server.api('/api/datasets', {
        token: bob.accessToken,
        body: { name: 'sales', csv: OTHER_SALES_CSV },
      }),
      201,
    )

    const aliceNotes = await call(aliceMcp, 'search_notes', { query: 'saffron' })
    const bobNotes = await call(bobMcp, 'search_notes', { query: 'saffron' })
    expect(aliceNotes.notes.map((n: any) => n.title)).toEqual(['Alice plan'])
    expect(bobNotes.notes.map((n: any) => n.title)).toEqual(['Bob secret'])

    const aliceSets = (await call(aliceMcp, 'list_datasets')).datasets
    const bobSets = (await call(bobMcp, 'list_datasets')).datasets
    expect(aliceSets.map((d: any) => d.id)).not.toContain(bobSets[0].id)
    const bobQuery = await call(bobMcp, 'query_dataset', {
      dataset: 'sales',
      groupBy: ['region'],
      aggregate: { fn: 'sum', column: 'amount' },
    })
    expect(bobQuery.rows.map((r: any) => r.region).sort()).toEqual(['Mars', 'North'])
    // Alice naming Bob's dataset by id gets "unknown dataset", never his rows.
    const foreign: any = await aliceMcp.callTool({ name: 'query_dataset', arguments: { dataset: bobSets[0].id } })
    expect(foreign.isError).toBe(true)
    expect(foreign.content[0].text).not.toContain('Mars')
  })

  test('calls of both users at once stay apart', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        i % 2
          ? call(bobMcp, 'search_notes', { query: 'saffron' })
          : call(aliceMcp, 'search_notes', { query: 'saffron' }),
      ),
    )
    results.forEach((r, i) => {
      expect(r.notes.map((n: any) => n.title)).toEqual([i % 2 ? 'Bob secret' : 'Alice plan'])
    })
  })
})

describe('transport and keys', () => {
  test('a JWT, an unknown key or no key is 401; a revoked key stops at once', async () => {
    const body = { jsonrpc: '2.0', id: 1, method: 'tools/list' }
    const headers = { accept: 'application/json, text/event-stream' }
    await expectError(
      await stack.server.api('/mcp', { token: alice.accessToken, body, headers }),
      401,
      'invalid_api_key',
    )
    await expectError(await stack.server.api('/mcp', { token: 'lcs_unknown', body, headers }), 401, 'invalid_api_key')
    await expectError(await stack.server.api('/mcp', { body, headers }), 401, 'missing_api_key')

    const created = await expectJson(
      await stack.server.api('/api/keys', { token: alice.accessToken, body: { name: 'short-lived' } }),
      201,
    )
    const client = await connect(created.secret)
    expect((await client.listTools()).tools.length).toBeGreaterThan(0)
    expect(
      (await stack.server.api(`/api/keys/${created.key.id}`, { token: alice.accessToken, method: 'DELETE' })).status,
    ).toBe(204)
    const error = await client.listTools().catch((e) => e)
    expect(error).toBeInstanceOf(Error)
    expect(String(error.message)).toMatch(/401|revoked/i)
  })

  test('GET and DELETE are 405 (a stateless server); malformed JSON-RPC is a JSON-RPC error', async () => {
    const secret = await newKey(alice)
    expect((await stack.server.api('/mcp', { token: secret, headers: { accept: 'text/event-stream' } })).status).toBe(
      405,
    )
    expect((await stack.server.api('/mcp', { token: secret, method: 'DELETE' })).status).toBe(405)
    const bad = await stack.server.api('/mcp', {
      token: secret,
      body: { not: 'json-rpc' },
      headers: { accept: 'application/json, text/event-stream' },
    })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as any).error.code).toBeLessThan(0)
  })

  test('a batch that cancels its own request is answered: the cancelled call is not run, the rest are', async () => {
    const secret = await newKey(alice)
    const post = (body: unknown) =>
      stack.server.api('/mcp', { token: secret, body, headers: { accept: 'application/json, text/event-stream' } })
    const call = (id: number, title: string) => ({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'save_note', arguments: { title, body: 'from a batch' } },
    })
    const cancel = (requestId: number) => ({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId, reason: 'changed my mind' },
    })
    const title = `batch-${crypto.randomUUID()}`
    const answered = await post([call(1, `${title}-cancelled`), call(2, `${title}-kept`), cancel(1)])
    expect(answered.status).toBe(200)
    // A batch is answered with an array, also when one response is left in it.
    expect(((await answered.json()) as any[]).map((r) => [r.id, r.result?.isError ?? false])).toEqual([[2, false]])
    // A batch of one request gets an array of one response; a single request, the response alone.
    const one = await post([{ jsonrpc: '2.0', id: 9, method: 'tools/list' }])
    expect(((await one.json()) as any[]).map((r) => r.id)).toEqual([9])
    const single = await post({ jsonrpc: '2.0', id: 10, method: 'tools/list' })
    expect(((await single.json()) as any).id).toBe(10)
    // Only the cancel and its request: nothing is left to answer.
    expect((await post([call(3, `${title}-also-cancelled`), cancel(3)])).status).toBe(202)
    const notes = (await (await stack.server.api('/api/notes', { token: alice.accessToken })).json()) as any
    expect(notes.notes.map((n: any) => n.title).filter((t: string) => t.startsWith(title))).toEqual([`${title}-kept`])
  })
})
