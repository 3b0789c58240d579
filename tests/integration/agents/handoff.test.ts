import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { startChatStack, type ChatStack } from '../../support/chat-stack'
import { demoBrain } from '../../support/demo-brain'
import { OTHER_SALES_CSV, SALES_AMOUNT_BY_REGION, SALES_CSV } from '../../support/data'
import { seqProblem, type Frame } from '../../support/ws-client'

setDefaultTimeout(30_000) // real servers and sockets on a shared 2-core machine

let stack: ChatStack
beforeAll(async () => {
  // The rule-based stand-in for a model: triage routes, the analyst lists then queries datasets.
  stack = await startChatStack({ handler: demoBrain })
})
afterAll(() => stack.close())

const types = (events: Frame[]) => events.map((e) => e.type)

async function uploadSales(token: string, csv = SALES_CSV, name = 'sales') {
  const res = await stack.server.api('/api/datasets', { token, body: { name, csv } })
  expect(res.status).toBe(201)
}

describe("triage → specialist handoff with tools over the user's own data", () => {
  test('"which region sells most?" is handed to the data analyst, who queries the CSV and answers with its numbers', async () => {
    const { user, ws } = await stack.userWithSocket()
    await uploadSales(user.accessToken)
    const { runId, threadId } = await ws.chat('Which region sells most in my sales data?')
    const events = await ws.completion(runId)

    expect(seqProblem(events)).toBeUndefined()
    const handoff = events.find((e) => e.type === 'agent_handoff')!
    expect(handoff).toMatchObject({ from: 'triage', to: 'data_analyst', agent: 'triage' })
    // The transfer itself is not a tool call.
    expect(events.filter((e) => e.type === 'tool_executing').map((e) => e.tool)).toEqual([
      'list_datasets',
      'query_dataset',
    ])
    // Events after the handoff carry the specialist.
    const after = events.slice(events.indexOf(handoff) + 1)
    expect(after.every((e) => e.agent === 'data_analyst')).toBe(true)
    expect(events.slice(0, events.indexOf(handoff)).every((e) => e.agent === 'triage')).toBe(true)

    const query = events.find((e) => e.type === 'tool_completed' && e.tool === 'query_dataset')!
    expect(query.ok).toBe(true)
    const sums = Object.fromEntries(query.result.rows.map((r: any) => [r.region, r.sum_amount]))
    for (const [region, amount] of Object.entries(SALES_AMOUNT_BY_REGION)) expect(sums[region]).toBeCloseTo(amount, 2)

    const done = events.at(-1)!
    expect(done.status).toBe('completed')
    expect(done.agent).toBe('data_analyst')
    expect(done.message.content).toContain('North') // the top region, from the tool result
    expect(done.message.content).toContain('2,050.71')

    // The specialist got the conversation so far: the user's question, and the transfer.
    const specialistCall = stack.ollama.requests.find((r) =>
      r.tools?.some((t: any) => t.function.name === 'query_dataset'),
    )!
    expect(specialistCall.messages[0].role).toBe('system')
    expect(
      specialistCall.messages.some((m: any) => m.role === 'user' && m.content.includes('Which region sells most')),
    ).toBe(true)
    expect(
      specialistCall.messages.some((m: any) => m.role === 'tool' && m.tool_name === 'transfer_to_data_analyst'),
    ).toBe(true)

    const run = (await (await stack.server.api(`/api/runs/${runId}`, { token: user.accessToken })).json()) as any
    expect(run.run.agent).toBe('data_analyst')
    const messages = (await (
      await stack.server.api(`/api/threads/${threadId}/messages`, { token: user.accessToken })
    ).json()) as any
    expect(messages.messages.at(-1)).toMatchObject({ role: 'assistant', agent: 'data_analyst', runId })
  })

  test('a follow-up in the same thread sends the earlier conversation (memory)', async () => {
    const { ws } = await stack.userWithSocket()
    const first = await ws.chat('hello there, my name is Ada')
    await ws.completion(first.runId)
    const second = await ws.chat('what did I just tell you?', { threadId: first.threadId })
    await ws.completion(second.runId)
    const last = stack.ollama.requests.at(-1)!
    const contents = last.messages.map((m: any) => m.content)
    expect(contents.some((c: string) => c.includes('my name is Ada'))).toBe(true)
    expect(last.messages.at(-1).content).toBe('what did I just tell you?')
  })

  test('addressing a specialist directly skips triage', async () => {
    const { user, ws } = await stack.userWithSocket()
    await uploadSales(user.accessToken)
    const { runId } = await ws.chat('sum the sales by region', { agent: 'data_analyst' })
    const events = await ws.completion(runId)
    expect(types(events)).not.toContain('agent_handoff')
    expect(events[0].agent).toBe('data_analyst')
    expect(events.at(-1)!.status).toBe('completed')
  })

  test('two users with same-named datasets, concurrently: each answer is built from their own data only', async () => {
    const a = await stack.userWithSocket('a')
    const b = await stack.userWithSocket('b')
    await uploadSales(a.user.accessToken)
    await uploadSales(b.user.accessToken, OTHER_SALES_CSV)
    const [ra, rb] = await Promise.all([
      a.ws.chat('Which region sells most in my sales data?'),
      b.ws.chat('Which region sells most in my sales data?'),
    ])
    const [ea, eb] = await Promise.all([a.ws.completion(ra.runId), b.ws.completion(rb.runId)])
    const rowsOf = (events: Frame[]) =>
      events
        .find((e) => e.type === 'tool_completed' && e.tool === 'query_dataset')!
        .result.rows.map((r: any) => r.region)
        .sort()
    expect(rowsOf(ea)).toEqual(['East', 'North', 'South', 'West'])
    expect(rowsOf(eb)).toEqual(['Mars', 'North'])
    expect(ea.at(-1)!.message.content).not.toContain('Mars')
    expect(eb.at(-1)!.message.content).toContain('Mars')
  })

  test("notes saved by one user are invisible to another user's search_notes during concurrent runs", async () => {
    const a = await stack.userWithSocket('a')
    const b = await stack.userWithSocket('b')
    const save = await a.ws.chat('Remember this note: the vault code is 4471', { agent: 'notes_assistant' })
    const saved = await a.ws.completion(save.runId)
    expect(saved.find((e) => e.type === 'tool_completed' && e.tool === 'save_note')!.ok).toBe(true)

    const [sa, sb] = await Promise.all([
      a.ws.chat('search my notes for the vault code', { agent: 'notes_assistant' }),
      b.ws.chat('search my notes for the vault code', { agent: 'notes_assistant' }),
    ])
    const [ea, eb] = await Promise.all([a.ws.completion(sa.runId), b.ws.completion(sb.runId)])
    const found = (events: Frame[]) =>
      events.find((e) => e.type === 'tool_completed' && e.tool === 'search_notes')!.result.notes
    expect(JSON.stringify(found(ea))).toContain('4471')
    expect(found(eb)).toEqual([])
    expect(JSON.stringify(eb)).not.toContain('4471')
  })
})
