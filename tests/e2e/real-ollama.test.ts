/**
 * End-to-end against a REAL Ollama: runs only when OLLAMA_HOST answers (see
 * tests/support/real-ollama.ts), and says so when it skips. Everything else in the suite uses
 * the scripted model.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { realOllama } from '../support/real-ollama'
import { startTestServer, type TestServer } from '../support/server'
import { registerUser } from '../support/users'
import { WsClient, seqProblem } from '../support/ws-client'
import { SALES_CSV } from '../support/data'

setDefaultTimeout(300_000) // a local model on CPU can take minutes

const ollama = await realOllama()

describe.skipIf(!ollama)('with a real model (OLLAMA_HOST)', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ OLLAMA_HOST: ollama!.url, OLLAMA_MODEL: ollama!.model, RUN_TIMEOUT_MS: '280000' })
  })
  afterAll(() => server?.close())

  test("an optimisation question is routed to the data analyst and the answer uses the user's data", async () => {
    const user = await registerUser(server)
    expect(
      (await server.api('/api/datasets', { token: user.accessToken, body: { name: 'sales', csv: SALES_CSV } })).status,
    ).toBe(201)
    const ws = await WsClient.connect(server.wsUrl, user.accessToken)
    const { runId } = await ws.chat(
      'Look at my sales dataset: which region brings in the most revenue, and where should I focus to grow sales?',
    )
    const events = await ws.completion(runId, 280_000)
    expect(seqProblem(events)).toBeUndefined()
    const done = events.at(-1)!
    expect(done.status).toBe('completed')
    expect(events.some((e) => e.type === 'agent_handoff' && e.to === 'data_analyst')).toBe(true)
    expect(events.some((e) => e.type === 'tool_completed' && e.tool === 'query_dataset' && e.ok)).toBe(true)
    // Actionable and grounded: it names a region that exists in the data.
    expect(done.message.content).toMatch(/North|South|East|West/)
    ws.close()
  })

  test('two users chatting at once each get an answer about their own question only', async () => {
    const [a, b] = [await registerUser(server, 'a'), await registerUser(server, 'b')]
    const [wa, wb] = await Promise.all([
      WsClient.connect(server.wsUrl, a.accessToken),
      WsClient.connect(server.wsUrl, b.accessToken),
    ])
    const [ra, rb] = await Promise.all([
      wa.chat('What is 12 times 12? Answer with the number.', { agent: 'planner' }),
      wb.chat('Name the capital of France in one word.'),
    ])
    const [ea, eb] = await Promise.all([wa.completion(ra.runId, 280_000), wb.completion(rb.runId, 280_000)])
    expect(ea.at(-1)!.message.content).toContain('144')
    expect(eb.at(-1)!.message.content).toMatch(/Paris/i)
    expect(wa.frames.some((f) => f.runId === rb.runId)).toBe(false)
    expect(wb.frames.some((f) => f.runId === ra.runId)).toBe(false)
    wa.close()
    wb.close()
  })
})
