/**
 * Proves the fake speaks Ollama's protocol by driving it with the real `ollama` npm client.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { Ollama, type ChatResponse, type Message } from 'ollama'
import { demoBrain } from '../../support/demo-brain'
import { FAKE_EMBEDDING_DIMENSIONS, fakeEmbedding, startFakeOllama, type FakeOllama } from '../../support/fake-ollama'

const MODEL = 'llama3.2'
const USER: Message[] = [{ role: 'user', content: 'hello' }]

let fake: FakeOllama
let client: Ollama

beforeEach(async () => {
  fake = await startFakeOllama()
  client = new Ollama({ host: fake.url })
})
afterEach(async () => {
  client.abort()
  await fake.close()
})

async function waitFor(cond: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('waitFor: condition not met in time')
    await Bun.sleep(5)
  }
}

/** Consumes a chat stream, keeping every chunk. */
async function collect(stream: AsyncIterable<ChatResponse>) {
  const chunks: ChatResponse[] = []
  for await (const chunk of stream) chunks.push(chunk)
  return {
    chunks,
    content: chunks.map((c) => c.message.content).join(''),
    thinking: chunks.map((c) => c.message.thinking ?? '').join(''),
    toolCalls: chunks.flatMap((c) => c.message.tool_calls ?? []),
    last: chunks.at(-1)!,
  }
}

/** Settles to 'pending' if `p` has not settled within `ms`. */
function stateAfter(p: Promise<unknown>, ms: number): Promise<string> {
  return Promise.race([
    p.then(
      () => 'resolved',
      () => 'rejected',
    ),
    Bun.sleep(ms).then(() => 'pending'),
  ])
}

describe('streaming /api/chat through the real client', () => {
  test('content chunks reassemble and the done line carries stats', async () => {
    fake.enqueue({ content: 'Hello, streaming world!', chunkSize: 3 })
    const r = await collect(await client.chat({ model: MODEL, messages: USER, stream: true }))

    expect(r.content).toBe('Hello, streaming world!')
    expect(r.chunks.filter((c) => !c.done).length).toBe(8) // ceil(23 / 3)
    expect(r.chunks.slice(0, -1).every((c) => c.done === false && c.message.role === 'assistant')).toBe(true)
    expect(r.last.done).toBe(true)
    expect(r.last.done_reason).toBe('stop')
    expect(r.last.eval_count).toBe(8)
    expect(r.last.prompt_eval_count).toBeGreaterThan(0)
    expect(r.last.total_duration).toBeGreaterThan(0)
    expect(typeof r.last.created_at).toBe('string') // a string on the wire, despite the Date type
    expect(fake.requests).toHaveLength(1)
    expect(fake.requests[0]).toMatchObject({ model: MODEL, messages: USER, stream: true })
  })

  test('a final assistant message is continued (prefill), as Ollama does', async () => {
    fake.enqueue({ content: 'The capital of France is Paris.', chunkSize: 4 }, { content: 'Something else entirely.' })
    const prefill: Message = { role: 'assistant', content: 'The capital of' }
    const continued = await collect(await client.chat({ model: MODEL, messages: [...USER, prefill], stream: true }))
    expect(continued.content).toBe(' France is Paris.')
    // A scripted answer that does not start with the prefill is streamed whole.
    const other = await collect(await client.chat({ model: MODEL, messages: [...USER, prefill], stream: true }))
    expect(other.content).toBe('Something else entirely.')
  })

  test('thinking streams first as message.thinking, and is dropped when think is false', async () => {
    fake.enqueue({ thinking: 'Let me think.', content: 'Answer.' }, { thinking: 'hidden', content: 'Plain.' })
    const r = await collect(await client.chat({ model: MODEL, messages: USER, stream: true, think: true }))
    expect(r.thinking).toBe('Let me think.')
    expect(r.content).toBe('Answer.')
    const firstContent = r.chunks.findIndex((c) => c.message.content !== '')
    const lastThinking = r.chunks.findLastIndex((c) => !!c.message.thinking)
    expect(lastThinking).toBeLessThan(firstContent)
    expect(fake.requests[0]!.think).toBe(true)

    const off = await collect(await client.chat({ model: MODEL, messages: USER, stream: true, think: false }))
    expect(off.thinking).toBe('')
    expect(off.content).toBe('Plain.')
  })

  test('tool calls arrive in one chunk with parsed arguments', async () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }]
    fake.enqueue({
      content: 'Checking.',
      toolCalls: [
        { name: 'get_weather', arguments: { city: 'Oslo', days: 2 } },
        { name: 'get_weather', arguments: { city: 'Rome', nested: { a: [1, 2] } } },
      ],
    })
    const r = await collect(await client.chat({ model: MODEL, messages: USER, tools, stream: true }))
    expect(r.content).toBe('Checking.')
    expect(r.chunks.filter((c) => c.message.tool_calls?.length)).toHaveLength(1)
    expect(r.toolCalls.map((c) => c.function)).toEqual([
      { name: 'get_weather', arguments: { city: 'Oslo', days: 2 } },
      { index: 1, name: 'get_weather', arguments: { city: 'Rome', nested: { a: [1, 2] } } } as any,
    ])
    expect(fake.requests[0]!.tools).toEqual(tools)
  })

  test('firstChunkDelayMs holds back the response headers', async () => {
    fake.enqueue({ content: 'late', firstChunkDelayMs: 120 })
    const started = performance.now()
    const stream = await client.chat({ model: MODEL, messages: USER, stream: true })
    expect(performance.now() - started).toBeGreaterThanOrEqual(100)
    expect((await collect(stream)).content).toBe('late')
  })
})

describe('errors', () => {
  test('httpError becomes a ResponseError with status_code', async () => {
    fake.enqueue({ httpError: 503, message: 'model is loading' })
    const err = await client.chat({ model: MODEL, messages: USER, stream: true }).then(
      () => undefined,
      (e: unknown) => e as Error & { status_code?: number },
    )
    // ollama-js does not export ResponseError; it is recognisable by name and status_code.
    expect(err?.name).toBe('ResponseError')
    expect(err?.status_code).toBe(503)
    expect(err?.message).toBe('model is loading')
  })

  test('a mid-stream error line is thrown by the iterator after the earlier content', async () => {
    fake.enqueue({ streamError: 'model runner crashed', afterContent: 'partial answer' })
    const stream = await client.chat({ model: MODEL, messages: USER, stream: true })
    let content = ''
    let error: (Error & { status_code?: number }) | undefined
    try {
      for await (const chunk of stream) content += chunk.message.content
    } catch (e) {
      error = e as Error
    }
    expect(content).toBe('partial answer')
    expect(error?.message).toBe('model runner crashed')
    expect(error?.status_code).toBeUndefined() // a plain Error, not a ResponseError
  })

  test('a throwing handler answers 500', async () => {
    fake.setHandler(() => {
      throw new Error('boom')
    })
    const err = await client.chat({ model: MODEL, messages: USER, stream: true }).catch((e) => e)
    expect(err.status_code).toBe(500)
    expect(err.message).toContain('boom')
  })

  test('invalid JSON, missing model and unknown routes get JSON errors', async () => {
    const bad = await fetch(`${fake.url}/api/chat`, { method: 'POST', body: '{not json' })
    expect(bad.status).toBe(400)
    expect(typeof ((await bad.json()) as { error: string }).error).toBe('string')

    const noModel = await fetch(`${fake.url}/api/chat`, { method: 'POST', body: '{"messages":[]}' })
    expect(noModel.status).toBe(400)
    expect(await noModel.json()).toEqual({ error: 'model is required' })

    const missing = await fetch(`${fake.url}/api/nope`)
    expect(missing.status).toBe(404)
    expect(missing.headers.get('content-type')).toContain('application/json')
    expect(fake.requests).toHaveLength(0)
  })
})

describe('aborts and hangs', () => {
  test('client.abort() ends a hangAfter stream and the fake releases it', async () => {
    fake.enqueue({ hangAfter: 'partial' })
    const stream = await client.chat({ model: MODEL, messages: USER, stream: true })
    expect(fake.inFlight()).toBe(1)
    let content = ''
    let error: Error | undefined
    try {
      for await (const chunk of stream) {
        content += chunk.message.content
        client.abort()
      }
    } catch (e) {
      error = e as Error
    }
    expect(content).toBe('partial')
    expect(error?.name).toBe('AbortError')
    await waitFor(() => fake.inFlight() === 0)
  })

  test('client.abort() cannot end a hang that has sent no headers; close() can', async () => {
    // The client only registers a stream for abort() after the headers arrive (ollama-js 0.6.4).
    fake.enqueue({ hang: true })
    const pending = client.chat({ model: MODEL, messages: USER, stream: true })
    await waitFor(() => fake.inFlight() === 1)
    client.abort()
    expect(await stateAfter(pending, 150)).toBe('pending')
    expect(fake.inFlight()).toBe(1)

    await fake.close()
    expect(await stateAfter(pending, 2000)).toBe('rejected')
    expect(fake.inFlight()).toBe(0)
  })

  test('a signal passed through the fetch option ends a hang, and the fake releases it', async () => {
    const controller = new AbortController()
    const abortable = new Ollama({
      host: fake.url,
      fetch: ((input, init) =>
        fetch(input, {
          ...init,
          signal: init?.signal ? AbortSignal.any([init.signal, controller.signal]) : controller.signal,
        })) as typeof fetch,
    })
    fake.enqueue({ hang: true })
    const pending = abortable.chat({ model: MODEL, messages: USER, stream: true })
    await waitFor(() => fake.inFlight() === 1)
    controller.abort()
    const err = await pending.then(
      () => undefined,
      (e: Error) => e,
    )
    expect(err?.name).toBe('AbortError')
    await waitFor(() => fake.inFlight() === 0)
  })

  test('an already-aborted signal never reaches the fake', async () => {
    const aborted = new Ollama({
      host: fake.url,
      fetch: ((input, init) => fetch(input, { ...init, signal: AbortSignal.abort() })) as typeof fetch,
    })
    await expect(aborted.chat({ model: MODEL, messages: USER, stream: false })).rejects.toThrow()
    expect(fake.requests).toHaveLength(0)
  })

  test('close() ends a hangAfter stream mid-way', async () => {
    fake.enqueue({ hangAfter: 'so far' })
    const stream = await client.chat({ model: MODEL, messages: USER, stream: true })
    const consumed = collect(stream)
    await Bun.sleep(20)
    await fake.close()
    await expect(consumed).rejects.toThrow()
    expect(fake.inFlight()).toBe(0)
    await fake.close() // idempotent
  })
})

describe('queue, handler and defaults', () => {
  test('queued replies go first, then the handler, which sees the call index', async () => {
    fake.enqueue({ content: 'first' })
    fake.setHandler((req, { callIndex }) => ({ content: `handler #${callIndex} for ${req.messages.at(-1)?.content}` }))
    const a = await client.chat({ model: MODEL, messages: USER })
    const b = await client.chat({ model: MODEL, messages: [{ role: 'user', content: 'again' }] })
    fake.setHandler(undefined)
    const c = await client.chat({ model: MODEL, messages: USER })
    expect([a.message.content, b.message.content, c.message.content]).toEqual(['first', 'handler #1 for again', 'ok'])
    expect(fake.requests.map((r) => r.stream)).toEqual([false, false, false])
  })

  test('stream:false returns one object with the whole message', async () => {
    fake.enqueue({ thinking: 'hmm', content: 'A short title', toolCalls: [{ name: 't', arguments: { x: 1 } }] })
    const res = await client.chat({ model: MODEL, messages: USER, stream: false })
    expect(res.done).toBe(true)
    expect(res.done_reason).toBe('stop')
    expect(res.message).toEqual({
      role: 'assistant',
      content: 'A short title',
      thinking: 'hmm',
      tool_calls: [{ function: { name: 't', arguments: { x: 1 } } }],
    })
    expect(res.eval_count).toBeGreaterThan(0)
  })

  test('stream:false surfaces a streamError as a 500 ResponseError', async () => {
    fake.enqueue({ streamError: 'out of memory' })
    const err = await client.chat({ model: MODEL, messages: USER, stream: false }).catch((e) => e)
    expect(err.status_code).toBe(500)
    expect(err.message).toBe('out of memory')
  })
})

describe('model endpoints', () => {
  test('list() reports the (mutable) models with Ollama-style tags', async () => {
    const first = await client.list()
    expect(first.models.map((m) => m.name)).toEqual(['llama3.2:latest'])
    expect(first.models[0]!.details.family).toBe('llama')
    fake.models.push('qwen3:8b')
    expect((await client.list()).models.map((m) => m.model)).toEqual(['llama3.2:latest', 'qwen3:8b'])
  })

  test('version(), show() and the root endpoint', async () => {
    expect((await client.version()).version).toMatch(/^\d+\.\d+\.\d+$/)
    const show = await client.show({ model: MODEL })
    expect(show.capabilities).toEqual(expect.arrayContaining(['completion', 'tools', 'thinking']))
    const missing = await client.show({ model: 'nope' }).catch((e) => e)
    expect(missing.status_code).toBe(404)
    const root = await fetch(fake.url)
    expect(await root.text()).toBe('Ollama is running')
  })

  test('capabilities can be overridden per model', async () => {
    const custom = await startFakeOllama({ models: ['tiny'], capabilities: { tiny: ['completion'] } })
    try {
      const show = await new Ollama({ host: custom.url }).show({ model: 'tiny' })
      expect(show.capabilities).toEqual(['completion'])
    } finally {
      await custom.close()
    }
  })
})

describe('/api/embed', () => {
  const cosine = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i]!, 0)

  test('deterministic, normalised 768-dimension vectors through the real client; shared words are closer', async () => {
    const before = fake.embedded
    const { embeddings } = await client.embed({
      model: 'nomic-embed-text',
      input: ['red apples and green pears', 'green pears are sweet', 'the train leaves at noon'],
    })
    expect(embeddings).toHaveLength(3)
    for (const e of embeddings) {
      expect(e).toHaveLength(FAKE_EMBEDDING_DIMENSIONS)
      expect(Math.hypot(...e)).toBeCloseTo(1, 6)
    }
    expect(cosine(embeddings[0]!, embeddings[1]!)).toBeGreaterThan(cosine(embeddings[0]!, embeddings[2]!))
    const again = await client.embed({ model: 'nomic-embed-text', input: 'red apples and green pears' })
    expect(again.embeddings[0]).toEqual(embeddings[0]!)
    expect(again.embeddings[0]).toEqual(fakeEmbedding('red apples and green pears'))
    expect(fake.embedded - before).toBe(4)
    expect(fake.embedCalls.slice(-2)).toEqual([3, 1])
  })

  test('a chat model cannot embed (400), an unknown model is 404, like Ollama', async () => {
    const chatModel = await client.embed({ model: MODEL, input: 'x' }).catch((e) => e)
    expect(chatModel.status_code).toBe(400)
    const unknown = await client.embed({ model: 'nope-embed', input: 'x' }).catch((e) => e)
    expect(unknown.status_code).toBe(404)
  })

  test('/api/show says an embedding model embeds (and does not chat)', async () => {
    const show = await client.show({ model: 'nomic-embed-text' })
    expect(show.capabilities).toEqual(['embedding'])
  })
})

describe('demo brain through the client', () => {
  test('triage routes a sales-csv question to the data analyst', async () => {
    fake.setHandler(demoBrain)
    const tools = ['transfer_to_data_analyst', 'transfer_to_notes_assistant', 'transfer_to_planner'].map((name) => ({
      type: 'function',
      function: { name, parameters: { type: 'object', properties: { reason: { type: 'string' } } } },
    }))
    const r = await collect(
      await client.chat({
        model: MODEL,
        messages: [{ role: 'user', content: 'which region sells most in my sales csv?' }],
        tools,
        stream: true,
        think: true,
      }),
    )
    expect(r.toolCalls.map((c) => c.function.name)).toEqual(['transfer_to_data_analyst'])
    expect(typeof r.toolCalls[0]!.function.arguments.reason).toBe('string')
    expect(r.thinking).toStartWith('Looking at the request')
  })
})
