import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { startChatStack } from '../../support/chat-stack'
import { seqProblem, streamedText, type Frame } from '../../support/ws-client'
import { useChatStack } from '../../support/fixtures'

setDefaultTimeout(30_000) // real servers and sockets on a shared 2-core machine

const stack = useChatStack()

const types = (events: Frame[]) => events.map((e) => e.type)
const CRITICAL = ['agent_started', 'agent_thinking', 'tool_executing', 'tool_completed', 'agent_completed']

describe('the five critical events of a tool-using run', () => {
  test('arrive in order with seq 1..n, matching tool call ids, and the answer stored', async () => {
    const { user, ws } = await stack.userWithSocket()
    stack.ollama.enqueue(
      {
        thinking: 'I should compute this.',
        toolCalls: [{ name: 'calculate', arguments: { expression: '(17 + 25) * 2' } }],
      },
      { content: 'The result is 84.', chunkSize: 4 },
    )
    const { runId, threadId } = await ws.chat('what is (17+25)*2?', { agent: 'data_analyst' })
    const events = await ws.completion(runId)

    expect(seqProblem(events)).toBeUndefined()
    for (const type of CRITICAL) expect(types(events)).toContain(type)
    // Critical events in the promised order.
    const order = CRITICAL.map((t) => types(events).indexOf(t))
    expect([...order].sort((a, b) => a - b)).toEqual(order)
    expect(events[0].type).toBe('agent_started')
    expect(events[0].input).toBe('what is (17+25)*2?')
    expect(events.at(-1)!.type).toBe('agent_completed')
    expect(types(events).filter((t) => t === 'agent_completed')).toHaveLength(1)

    const executing = events.find((e) => e.type === 'tool_executing')!
    const completed = events.find((e) => e.type === 'tool_completed')!
    expect(executing.tool).toBe('calculate')
    expect(executing.args).toEqual({ expression: '(17 + 25) * 2' })
    expect(completed.toolCallId).toBe(executing.toolCallId)
    expect(completed.ok).toBe(true)
    expect(completed.result).toEqual({ value: 84 })
    expect(typeof completed.durationMs).toBe('number')
    expect(events.some((e) => e.type === 'agent_thinking' && e.text?.includes('compute'))).toBe(true)

    for (const e of events) {
      expect(e.runId).toBe(runId)
      expect(e.threadId).toBe(threadId)
      expect(e.agent).toBe('data_analyst')
      expect(Number.isNaN(Date.parse(e.ts))).toBe(false)
    }

    const done = events.at(-1)!
    expect(done.status).toBe('completed')
    expect(done.message.content).toBe('The result is 84.')
    expect(streamedText(events)).toBe('The result is 84.')

    // The model got the tool result back as a role:"tool" message.
    const second = stack.ollama.requests.at(-1)!
    expect(
      second.messages.some((m: any) => m.role === 'tool' && m.tool_name === 'calculate' && m.content.includes('84')),
    ).toBe(true)

    const messages = (await (
      await stack.server.api(`/api/threads/${threadId}/messages`, { token: user.accessToken })
    ).json()) as any
    expect(messages.messages.map((m: any) => [m.role, m.content])).toEqual([
      ['user', 'what is (17+25)*2?'],
      ['assistant', 'The result is 84.'],
    ])
    expect(messages.messages[1].id).toBe(done.message.id)
    expect(messages.messages[1].runId).toBe(runId)

    const run = (await (await stack.server.api(`/api/runs/${runId}`, { token: user.accessToken })).json()) as any
    expect(run.run).toMatchObject({ id: runId, threadId, status: 'completed', agent: 'data_analyst' })
    expect(run.run.finishedAt).toBeString()
  })

  test('agent_thinking comes before each model answer', async () => {
    const { ws } = await stack.userWithSocket()
    stack.ollama.enqueue({ toolCalls: [{ name: 'calculate', arguments: { expression: '1+1' } }] }, { content: 'Two.' })
    const { runId } = await ws.chat('1+1', { agent: 'data_analyst' })
    const t = types(await ws.completion(runId))
    const firstDelta = t.indexOf('message_delta')
    const toolDone = t.indexOf('tool_completed')
    expect(t.indexOf('agent_thinking')).toBeLessThan(t.indexOf('tool_executing'))
    expect(t.slice(toolDone, firstDelta)).toContain('agent_thinking')
  })

  test('a failing tool completes with ok:false, the model is told, and the run still completes', async () => {
    const { ws } = await stack.userWithSocket()
    stack.ollama.enqueue(
      { toolCalls: [{ name: 'calculate', arguments: { expression: '1/0' } }] },
      { content: 'Division by zero is undefined.' },
    )
    const { runId } = await ws.chat('divide one by zero', { agent: 'data_analyst' })
    const events = await ws.completion(runId)
    const completed = events.find((e) => e.type === 'tool_completed')!
    expect(completed.ok).toBe(false)
    expect(completed.error.code).toBeString()
    expect(completed.error.message).toBeString()
    expect(events.at(-1)!.status).toBe('completed')
    const toolMessage = stack.ollama.requests.at(-1)!.messages.find((m: any) => m.role === 'tool')
    expect(toolMessage.content).toContain('error')
  })

  test('an unknown tool and invalid arguments are tool errors, not run failures', async () => {
    const { ws } = await stack.userWithSocket()
    stack.ollama.enqueue(
      {
        toolCalls: [
          { name: 'rm_rf', arguments: {} },
          { name: 'calculate', arguments: { expression: { nested: true } } },
        ],
      },
      { content: 'Sorry.' },
    )
    const { runId } = await ws.chat('do things', { agent: 'data_analyst' })
    const events = await ws.completion(runId)
    const results = events.filter((e) => e.type === 'tool_completed')
    expect(results.map((r) => r.ok)).toEqual([false, false])
    expect(results[0].error.code).toBe('unknown_tool')
    expect(events.at(-1)!.status).toBe('completed')
  })

  test('a run stops calling the model after the step limit and completes', async () => {
    const limited = await startChatStack({
      env: { MAX_AGENT_STEPS: '3' },
      handler: () => ({ toolCalls: [{ name: 'calculate', arguments: { expression: '1+1' } }] }),
    })
    try {
      const { ws } = await limited.userWithSocket()
      const { runId } = await ws.chat('loop forever', { agent: 'data_analyst' })
      const events = await ws.completion(runId)
      expect(limited.ollama.requests).toHaveLength(3)
      expect(events.at(-1)!.status).toBe('completed')
      expect(events.at(-1)!.message.content).toContain('3 steps')
    } finally {
      await limited.close()
    }
  })
})

describe('every run ends with exactly one agent_completed, whatever fails', () => {
  test('model down: failed, llm_unavailable, with how to start Ollama', async () => {
    // A port nothing listens on and no test binds (a closed fake's port may be taken by another
    // process meanwhile, which then answers instead of refusing).
    const down = await startChatStack({ env: { OLLAMA_HOST: 'http://127.0.0.1:9' } })
    try {
      const { ws } = await down.userWithSocket()
      const { runId } = await ws.chat('hello')
      const events = await ws.completion(runId)
      const done = events.at(-1)!
      expect(done.status).toBe('failed')
      expect(done.error.code).toBe('llm_unavailable')
      expect(done.error.message).toContain('ollama serve')
      expect(seqProblem(events)).toBeUndefined()
    } finally {
      await down.close()
    }
  })

  test('model HTTP error: failed, llm_error', async () => {
    const { ws } = await stack.userWithSocket()
    stack.ollama.enqueue({ httpError: 500, message: 'out of memory' })
    const { runId } = await ws.chat('hello')
    const done = (await ws.completion(runId)).at(-1)!
    expect(done.status).toBe('failed')
    expect(done.error.code).toBe('llm_error')
    expect(done.error.message).toContain('out of memory')
  })

  test('model not pulled: failed, model_not_found naming ollama pull', async () => {
    const { ws } = await stack.userWithSocket()
    stack.ollama.enqueue({ httpError: 404, message: 'model "nope" not found, try pulling it first' })
    const { runId } = await ws.chat('hello', { model: 'nope' })
    const done = (await ws.completion(runId)).at(-1)!
    expect(done.error.code).toBe('model_not_found')
    expect(done.error.message).toContain('ollama pull nope')
  })

  test('mid-stream error: the partial answer is kept, failed, llm_error', async () => {
    const { ws } = await stack.userWithSocket()
    stack.ollama.enqueue({ streamError: 'GPU fell over', afterContent: 'Partial ans' })
    const { runId } = await ws.chat('hello')
    const events = await ws.completion(runId)
    const done = events.at(-1)!
    expect(done.status).toBe('failed')
    expect(done.error.code).toBe('llm_error')
    expect(streamedText(events)).toBe('Partial ans')
    expect(done.message.content).toBe('Partial ans')
  })

  test('cancel: cancelled, even while the model has not answered yet', async () => {
    const { ws } = await stack.userWithSocket()
    stack.ollama.enqueue({ hang: true })
    const asked = stack.ollama.requests.length
    const { runId } = await ws.chat('hello')
    // Cancel only once the model has the request, so the hang is consumed by this run.
    while (stack.ollama.requests.length === asked) await Bun.sleep(5)
    ws.send({ type: 'cancel', runId })
    const events = await ws.completion(runId)
    expect(events.at(-1)!.status).toBe('cancelled')
    expect(seqProblem(events)).toBeUndefined()
  })

  test('cancel mid-stream keeps what streamed', async () => {
    const { ws } = await stack.userWithSocket()
    stack.ollama.enqueue({ hangAfter: 'Half an answer' })
    const { runId } = await ws.chat('hello')
    await ws.waitFor((f) => f.type === 'message_delta' && f.runId === runId)
    ws.send({ type: 'cancel', runId })
    const done = (await ws.completion(runId)).at(-1)!
    expect(done.status).toBe('cancelled')
    expect(done.message.content).toBe('Half an answer')
  })

  test('timeout: failed with code timeout', async () => {
    const slow = await startChatStack({ env: { RUN_TIMEOUT_MS: '500' }, handler: () => ({ hang: true }) })
    try {
      const { ws } = await slow.userWithSocket()
      const { runId } = await ws.chat('hello')
      const done = (await ws.completion(runId)).at(-1)!
      expect(done.status).toBe('failed')
      expect(done.error.code).toBe('timeout')
    } finally {
      await slow.close()
    }
  })

  test('server shutdown: in-flight runs are cancelled with their agent_completed', async () => {
    const doomed = await startChatStack({ env: { SHUTDOWN_GRACE_MS: '200' }, handler: () => ({ hang: true }) })
    const { ws } = await doomed.userWithSocket()
    const { runId } = await ws.chat('hello')
    await ws.waitFor((f) => f.type === 'agent_thinking' && f.runId === runId)
    await doomed.server.close() // the server only: the socket must see the run end
    await ws.closed
    await doomed.ollama.close()
    const done = ws.eventsOf(runId).at(-1)!
    expect(done.type).toBe('agent_completed')
    expect(done.status).toBe('cancelled')
    expect(done.error.code).toBe('server_shutdown')
  })
})

describe('limits', () => {
  test('more concurrent runs than MAX_RUNS_PER_USER are refused with too_many_runs', async () => {
    const capped = await startChatStack({ env: { MAX_RUNS_PER_USER: '2' }, handler: () => ({ hang: true }) })
    try {
      const { ws } = await capped.userWithSocket()
      const first = await ws.chat('one')
      await ws.chat('two')
      ws.send({ type: 'chat', requestId: 'third', content: 'three' })
      const error = await ws.waitFor((f) => f.type === 'error' && f.requestId === 'third')
      expect(error.code).toBe('too_many_runs')
      // Another user is not affected by this user's cap.
      const other = await capped.userWithSocket('other')
      await other.ws.chat('mine')
      // Finishing one frees a slot.
      ws.send({ type: 'cancel', runId: first.runId })
      await ws.completion(first.runId)
      await ws.chat('three again')
    } finally {
      await capped.close()
    }
  })
})
