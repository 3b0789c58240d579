/**
 * The OpenAI-compatible API (PROTOCOL.md §7) driven by the official `openai` client: models,
 * completions streamed and not, threads, errors in OpenAI's shape, and every call a real run
 * of the key's user that their WebSockets see live.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import OpenAI from 'openai'
import { lastUserText, startChatStack, type ChatStack } from '../../support/chat-stack'
import type { TestServer } from '../../support/server'
import { registerUser, type TestUser } from '../../support/users'
import { WsClient, streamedText } from '../../support/ws-client'
import { expectJson } from '../../support/http'
import type { ChatRequestRecord, Reply } from '../../support/fake-ollama'

setDefaultTimeout(30_000)

let stack: ChatStack
let alice: TestUser
let aliceKey: { id: string; secret: string }
let aliceWs: WsClient

/**
 * The scripted model, chosen by the question (never by a queue, so a run cancelled before it
 * reached the model leaves nothing behind for the next test): `silent` never answers, `hang`
 * streams a little then waits, `long` answers in many pieces, else echo.
 */
function script(req: ChatRequestRecord): Reply {
  const text = lastUserText(req.messages)
  if (text.includes('silent')) return { hang: true }
  if (text.includes('hang')) return { hangAfter: 'partial answer ' }
  if (text.includes('long'))
    return { content: 'one two three four five six seven eight nine ten', chunkSize: 4, chunkDelayMs: 2 }
  if (text.includes('system?'))
    return {
      content: `system says: ${req.messages
        .filter((m) => m.role === 'system')
        .map((m) => m.content)
        .at(-1)}`,
    }
  return { content: `echo: ${text}`, chunkSize: 3 }
}

/** A new API key of `user` on `server` (the file's stack by default). */
async function newKey(user: TestUser, name = 'test', server: TestServer = stack.server) {
  const body = await expectJson<{ key: { id: string }; secret: string }>(
    await server.api('/api/keys', { token: user.accessToken, body: { name } }),
    201,
  )
  return { id: body.key.id, secret: body.secret }
}

const client = (apiKey: string, server: TestServer = stack.server) =>
  new OpenAI({ apiKey, baseURL: `${server.url}/v1`, maxRetries: 0 })

/** The `openai` client of a new user (`name`) of another stack, with an API key of their own. */
async function clientOfNewUser(server: TestServer, name: string) {
  const user = await registerUser(server, name)
  return client((await newKey(user, 'k', server)).secret, server)
}

/** A streamed completion of `content` (one user message, llama3.2) with alice's key, and its HTTP response. */
const streamAsAlice = (content: string) =>
  client(aliceKey.secret)
    .chat.completions.create({ model: 'llama3.2', stream: true, messages: [{ role: 'user', content }] })
    .withResponse()

/** Waits until the run's row says it finished; returns its status. */
async function finishedStatus(user: TestUser, runId: string): Promise<string> {
  for (let i = 0; i < 500; i++) {
    const { run } = await expectJson(await stack.server.api(`/api/runs/${runId}`, { token: user.accessToken }))
    if (run.status !== 'running') return run.status
    await Bun.sleep(10)
  }
  throw new Error(`run ${runId} never finished`)
}

beforeAll(async () => {
  stack = await startChatStack({ handler: script })
  alice = await registerUser(stack.server, 'alice')
  aliceKey = await newKey(alice)
  aliceWs = await WsClient.connect(stack.server.wsUrl, alice.accessToken)
})
afterAll(async () => {
  aliceWs.close()
  await stack.close()
})

describe('models', () => {
  test('models.list: every Ollama model plus agent:<id> for each agent', async () => {
    const ids: string[] = []
    for await (const model of client(aliceKey.secret).models.list()) {
      expect(model.object).toBe('model')
      expect(typeof model.created).toBe('number')
      expect(typeof model.owned_by).toBe('string')
      ids.push(model.id)
    }
    expect(ids).toContain('llama3.2:latest')
    expect(ids.filter((id) => id.startsWith('agent:')).sort()).toEqual([
      'agent:data_analyst',
      'agent:notes_assistant',
      'agent:planner',
      'agent:researcher',
      'agent:triage',
    ])
  })
})

describe('chat.completions.create', () => {
  test('not streamed: the answer, finish_reason stop and usage; the run is on the user’s WebSocket', async () => {
    const { data, response } = await client(aliceKey.secret)
      .chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hello from a script' }] })
      .withResponse()
    expect(data.object).toBe('chat.completion')
    expect(data.model).toBe('llama3.2')
    expect(data.choices).toHaveLength(1)
    expect(data.choices[0].message).toMatchObject({ role: 'assistant', content: 'echo: hello from a script' })
    expect(data.choices[0].finish_reason).toBe('stop')
    expect(data.usage!.completion_tokens).toBeGreaterThan(0)
    expect(data.usage!.total_tokens).toBe(data.usage!.prompt_tokens + data.usage!.completion_tokens)

    const runId = response.headers.get('x-run-id')!
    expect(data.id).toBe(`chatcmpl-${runId}`)
    const events = await aliceWs.completion(runId)
    expect(events[0]).toMatchObject({ type: 'agent_started', input: 'hello from a script', agent: 'triage' })
    expect(streamedText(events)).toBe('echo: hello from a script')
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', status: 'completed' })

    // A new thread titled from the first user message, holding the question and the answer.
    const threadId = response.headers.get('x-thread-id')!
    const { thread } = await expectJson(
      await stack.server.api(`/api/threads/${threadId}`, { token: alice.accessToken }),
    )
    expect(thread.title).toBe('hello from a script')
    const { messages } = await expectJson(
      await stack.server.api(`/api/threads/${threadId}/messages`, { token: alice.accessToken }),
    )
    expect(messages.map((m: any) => [m.role, m.content])).toEqual([
      ['user', 'hello from a script'],
      ['assistant', 'echo: hello from a script'],
    ])
  })

  test('streamed: chat.completion.chunk deltas that add up to the answer, then finish_reason', async () => {
    const { data: stream, response } = await streamAsAlice('a long answer please')
    expect(response.headers.get('content-type')).toContain('text/event-stream')
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = []
    for await (const chunk of stream) chunks.push(chunk)
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0].id)).toBe(true)
    expect(chunks[0].choices[0].delta.role).toBe('assistant')
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')
    expect(text).toBe('one two three four five six seven eight nine ten')
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBeGreaterThan(1)
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop')
    expect(chunks.slice(0, -1).every((c) => c.choices[0].finish_reason === null)).toBe(true)
    const runId = response.headers.get('x-run-id')!
    expect(streamedText(await aliceWs.completion(runId))).toBe(text)
  })

  test('stream_options.include_usage adds a last chunk with usage and no choices', async () => {
    const stream = await client(aliceKey.secret).chat.completions.create({
      model: 'llama3.2',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'count me' }],
    })
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = []
    for await (const chunk of stream) chunks.push(chunk)
    expect(chunks.at(-1)!.choices).toEqual([])
    expect(chunks.at(-1)!.usage!.completion_tokens).toBeGreaterThan(0)
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true)
  })

  test('agent:<id> runs that agent on the default model', async () => {
    const { data, response } = await client(aliceKey.secret)
      .chat.completions.create({ model: 'agent:planner', messages: [{ role: 'user', content: 'plan it' }] })
      .withResponse()
    expect(data.choices[0].message.content).toBe('echo: plan it')
    const { run } = await expectJson(
      await stack.server.api(`/api/runs/${response.headers.get('x-run-id')}`, { token: alice.accessToken }),
    )
    expect(run.agent).toBe('planner')
    expect(stack.ollama.requests.at(-1)!.model).toBe(stack.server.config.ollamaModel)
  })

  test('the conversation, system prompt and sampling options reach the model', async () => {
    const { data } = await client(aliceKey.secret)
      .chat.completions.create({
        model: 'llama3.2',
        temperature: 0.2,
        max_tokens: 64,
        messages: [
          { role: 'system', content: 'be brief' },
          { role: 'user', content: 'first question' },
          { role: 'assistant', content: 'first answer' },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'what does the system? ' },
              { type: 'text', text: 'say' },
            ],
          },
        ],
      })
      .withResponse()
    expect(data.choices[0].message.content).toBe('system says: be brief')
    const sent = stack.ollama.requests.at(-1)!
    expect(sent.messages.slice(1).map((m: any) => [m.role, m.content])).toEqual([
      ['system', 'be brief'],
      ['user', 'first question'],
      ['assistant', 'first answer'],
      ['user', 'what does the system? say'],
    ])
    expect(sent.options).toMatchObject({ temperature: 0.2, num_predict: 64 })
  })

  test('finish_reason is length when max_tokens cut the answer, stop otherwise', async () => {
    // Scripted as Ollama does it: num_predict reached → done_reason "length".
    stack.ollama.setHandler((req) => {
      const limit = (req.options as { num_predict?: number } | undefined)?.num_predict
      const words = 'one two three four five six'.split(' ')
      return limit && limit < words.length
        ? { content: words.slice(0, limit).join(' '), doneReason: 'length' }
        : { content: words.join(' ') }
    })
    try {
      const cut = await client(aliceKey.secret).chat.completions.create({
        model: 'llama3.2',
        max_tokens: 2,
        messages: [{ role: 'user', content: 'count' }],
      })
      expect(cut.choices[0]).toMatchObject({ finish_reason: 'length', message: { content: 'one two' } })
      expect(stack.ollama.requests.at(-1)!.options).toMatchObject({ num_predict: 2 })
      let streamedFinish: string | null = null
      for await (const chunk of await client(aliceKey.secret).chat.completions.create({
        model: 'llama3.2',
        max_tokens: 2,
        stream: true,
        messages: [{ role: 'user', content: 'count' }],
      })) {
        streamedFinish = chunk.choices[0]?.finish_reason ?? streamedFinish
      }
      expect(streamedFinish).toBe('length')
      const whole = await client(aliceKey.secret).chat.completions.create({
        model: 'llama3.2',
        max_tokens: 50,
        messages: [{ role: 'user', content: 'count' }],
      })
      expect(whole.choices[0]).toMatchObject({
        finish_reason: 'stop',
        message: { content: 'one two three four five six' },
      })
    } finally {
      stack.ollama.setHandler(script)
    }
  })

  test('finish_reason is stop after a handoff even when the whole run used more than max_tokens', async () => {
    // Step 1: triage hands over (its own tokens); step 2: the specialist answers within the limit.
    stack.ollama.setHandler((req) =>
      req.messages.some((m: any) => m.role === 'tool')
        ? { content: 'planned', chunkSize: 1 }
        : {
            content: 'handing over to the planner now',
            chunkSize: 1,
            toolCalls: [{ name: 'transfer_to_planner', arguments: { reason: 'a plan' } }],
          },
    )
    try {
      const answer = await client(aliceKey.secret).chat.completions.create({
        model: 'llama3.2',
        max_tokens: 20,
        messages: [{ role: 'user', content: 'plan' }],
      })
      expect(answer.usage!.completion_tokens).toBeGreaterThan(20)
      expect(answer.choices[0].message.content).toContain('planned')
      expect(answer.choices[0].finish_reason).toBe('stop')
    } finally {
      stack.ollama.setHandler(script)
    }
  })

  test('streamed and not, the answer is the stored answer (also when the step limit adds a note)', async () => {
    const limited = await startChatStack({
      env: { MAX_AGENT_STEPS: '1' },
      handler: () => ({
        content: 'Let me compute. ',
        toolCalls: [{ name: 'calculate', arguments: { expression: '6*7' } }],
      }),
    })
    try {
      const api = await clientOfNewUser(limited.server, 'stepper')
      const whole = await api.chat.completions.create({
        model: 'agent:planner',
        messages: [{ role: 'user', content: 'what is 6*7?' }],
      })
      expect(whole.choices[0].message.content).toStartWith('Let me compute. ')
      expect(whole.choices[0].message.content).toContain('I stopped after 1 steps')
      let streamed = ''
      for await (const chunk of await api.chat.completions.create({
        model: 'agent:planner',
        stream: true,
        messages: [{ role: 'user', content: 'what is 6*7?' }],
      }))
        streamed += chunk.choices[0]?.delta.content ?? ''
      expect(streamed).toBe(whole.choices[0].message.content!)
    } finally {
      await limited.close()
    }
  })

  test('X-Thread-Id continues a thread of the user; another user’s thread is a 404', async () => {
    const api = client(aliceKey.secret)
    const first = await api.chat.completions
      .create({ model: 'llama3.2', messages: [{ role: 'user', content: 'turn one' }] })
      .withResponse()
    const threadId = first.response.headers.get('x-thread-id')!
    const second = await api.chat.completions
      .create(
        { model: 'llama3.2', messages: [{ role: 'user', content: 'turn two' }] },
        { headers: { 'X-Thread-Id': threadId } },
      )
      .withResponse()
    expect(second.response.headers.get('x-thread-id')).toBe(threadId)
    const { messages } = await expectJson(
      await stack.server.api(`/api/threads/${threadId}/messages`, { token: alice.accessToken }),
    )
    expect(messages.map((m: any) => m.content)).toEqual(['turn one', 'echo: turn one', 'turn two', 'echo: turn two'])

    const bob = await registerUser(stack.server, 'bob')
    const bobKey = await newKey(bob)
    const foreign = await client(bobKey.secret)
      .chat.completions.create(
        { model: 'llama3.2', messages: [{ role: 'user', content: 'sneak in' }] },
        { headers: { 'X-Thread-Id': threadId } },
      )
      .catch((e) => e)
    expect(foreign).toBeInstanceOf(OpenAI.NotFoundError)
    expect(foreign.code).toBe('not_found')
    const after = await expectJson(
      await stack.server.api(`/api/threads/${threadId}/messages`, { token: alice.accessToken }),
    )
    expect(after.messages).toHaveLength(4)
  })
})

describe('errors in OpenAI’s shape', () => {
  test('a bad key is AuthenticationError (401)', async () => {
    const error = await client('lcs_nope')
      .chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'x' }] })
      .catch((e) => e)
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError)
    expect(error.status).toBe(401)
    expect(error.code).toBe('invalid_api_key')
    expect(error.type).toBe('authentication_error')
  })

  test('an unknown model or agent is NotFoundError (404) and starts no run', async () => {
    const before = stack.ollama.requests.length
    for (const model of ['no-such-model', 'agent:nobody']) {
      const error = await client(aliceKey.secret)
        .chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] })
        .catch((e) => e)
      expect(error).toBeInstanceOf(OpenAI.NotFoundError)
      expect(error.code).toBe('model_not_found')
    }
    expect(stack.ollama.requests.length).toBe(before)
  })

  test('too many runs is RateLimitError (429) with Retry-After', async () => {
    const limited = await startChatStack({ handler: script, env: { MAX_RUNS_PER_USER: '1' } })
    try {
      const api = await clientOfNewUser(limited.server, 'busy')
      const busy = await api.chat.completions.create({
        model: 'llama3.2',
        stream: true,
        messages: [{ role: 'user', content: 'hang here' }],
      })
      const iterator = busy[Symbol.asyncIterator]()
      await iterator.next() // the first run is streaming and holds the user's only slot
      const error = await api.chat.completions
        .create({ model: 'llama3.2', messages: [{ role: 'user', content: 'one more' }] })
        .catch((e) => e)
      expect(error).toBeInstanceOf(OpenAI.RateLimitError)
      expect(error.code).toBe('too_many_runs')
      expect(Number(error.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      busy.controller.abort()
    } finally {
      await limited.close()
    }
  })

  test('Ollama down: 503 with a message that says how to start it', async () => {
    // A port nothing listens on and no test binds (a closed fake's port may be taken by another
    // process meanwhile, which then answers instead of refusing).
    const down = await startChatStack({ handler: script, env: { OLLAMA_HOST: 'http://127.0.0.1:9' } })
    try {
      const api = await clientOfNewUser(down.server, 'offline')
      for (const call of [
        () => api.models.list(),
        () => api.chat.completions.create({ model: 'agent:triage', messages: [{ role: 'user', content: 'x' }] }),
        () =>
          api.chat.completions.create({
            model: 'agent:triage',
            stream: true,
            messages: [{ role: 'user', content: 'x' }],
          }),
      ]) {
        const error = await call().catch((e) => e)
        expect(error).toBeInstanceOf(OpenAI.InternalServerError)
        expect(error.status).toBe(503)
        expect(error.code).toBe('llm_unavailable')
        expect(error.message).toContain('ollama serve')
      }
    } finally {
      await down.close()
    }
  })
})

describe('bad input is a clear 400 and starts nothing', () => {
  const raw = (body: string | object, token = aliceKey.secret) =>
    stack.server.api('/v1/chat/completions', { token, body })

  test.each([
    ['malformed JSON', '{"model": "llama3.2", "messages": [', 'invalid_json', 'not valid JSON'],
    ['a JSON array', '[1,2]', 'invalid_request', 'JSON object'],
    [
      'an unknown field',
      { model: 'llama3.2', messages: [{ role: 'user', content: 'x' }], tools: [] },
      'unsupported_parameter',
      'tools',
    ],
    ['no messages', { model: 'llama3.2', messages: [] }, 'invalid_request', 'messages'],
    ['no model', { messages: [{ role: 'user', content: 'x' }] }, 'invalid_request', 'model'],
    [
      'a bad role',
      { model: 'llama3.2', messages: [{ role: 'wizard', content: 'x' }] },
      'invalid_request',
      'messages[0]',
    ],
    [
      'temperature out of range',
      { model: 'llama3.2', temperature: 9, messages: [{ role: 'user', content: 'x' }] },
      'invalid_request',
      'temperature',
    ],
    [
      'the last message not from the user',
      {
        model: 'llama3.2',
        messages: [
          { role: 'user', content: 'x' },
          { role: 'assistant', content: 'y' },
        ],
      },
      'invalid_request',
      'last message',
    ],
    [
      'too many messages',
      { model: 'llama3.2', messages: Array.from({ length: 1001 }, () => ({ role: 'user', content: 'x' })) },
      'context_length_exceeded',
      '1001',
    ],
    [
      'messages too long',
      { model: 'llama3.2', messages: [{ role: 'user', content: 'x'.repeat(400_001) }] },
      'context_length_exceeded',
      'characters',
    ],
  ] as const)('%s', async (_name, body, code, words) => {
    const before = stack.ollama.requests.length
    const { threads: threadsBefore } = await expectJson(
      await stack.server.api('/api/threads', { token: alice.accessToken }),
    )
    const res = await raw(body as any)
    expect(res.status).toBe(400)
    const error = ((await res.json()) as any).error
    expect(Object.keys(error).sort()).toEqual(['code', 'message', 'type'])
    expect(error).toMatchObject({ code, type: 'invalid_request_error' })
    expect(error.message).toContain(words)
    expect(stack.ollama.requests.length).toBe(before)
    const { threads } = await expectJson(await stack.server.api('/api/threads', { token: alice.accessToken }))
    expect(threads.length).toBe(threadsBefore.length)
  })

  test('a body that is not JSON (curl -d without a Content-Type) is a 400 that says so', async () => {
    const res = await fetch(`${stack.server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${aliceKey.secret}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: '{"model":"llama3.2","messages":[{"role":"user","content":"x"}]}',
    })
    expect(res.status).toBe(400)
    expect(((await res.json()) as any).error.message).toContain('Content-Type: application/json')
  })

  test('a body over 8 MiB is 413 in OpenAI’s shape', async () => {
    const res = await raw({ model: 'llama3.2', messages: [{ role: 'user', content: 'x'.repeat(9 * 1024 * 1024) }] })
    expect(res.status).toBe(413)
    expect(((await res.json()) as any).error).toMatchObject({
      code: 'payload_too_large',
      type: 'invalid_request_error',
    })
  })
})

describe('ending early', () => {
  test('a client that disconnects mid-stream cancels its run', async () => {
    const { data: stream, response } = await streamAsAlice('hang on the line')
    const runId = response.headers.get('x-run-id')!
    const iterator = stream[Symbol.asyncIterator]()
    expect((await iterator.next()).value?.choices[0].delta.role).toBe('assistant')
    stream.controller.abort()
    expect(await finishedStatus(alice, runId)).toBe('cancelled')
    const events = await aliceWs.completion(runId)
    expect(events.at(-1)).toMatchObject({ type: 'agent_completed', status: 'cancelled' })
    expect(stack.server.runtime.runs.active.has(runId)).toBe(false)
  })

  test('a client that disconnects before the first token cancels its run too', async () => {
    const controller = new AbortController()
    const pending = fetch(`${stack.server.url}/v1/chat/completions`, {
      method: 'POST',
      signal: controller.signal,
      headers: { authorization: `Bearer ${aliceKey.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'llama3.2',
        stream: true,
        messages: [{ role: 'user', content: 'silent: waiting for the model' }],
      }),
    }).catch((e) => e)
    const started = await aliceWs.waitFor(
      (f) => f.type === 'agent_started' && f.input === 'silent: waiting for the model',
    )
    controller.abort()
    await pending
    expect(await finishedStatus(alice, started.runId)).toBe('cancelled')
  })

  test('a non-streamed call whose client gives up cancels its run', async () => {
    const controller = new AbortController()
    const pending = client(aliceKey.secret)
      .chat.completions.create(
        { model: 'llama3.2', messages: [{ role: 'user', content: 'hang then give up' }] },
        { signal: controller.signal },
      )
      .catch((e) => e)
    const delta = await aliceWs.waitFor(
      (f) => f.type === 'message_delta' && aliceWs.eventsOf(f.runId)[0]?.input === 'hang then give up',
    )
    controller.abort()
    expect(await pending).toBeInstanceOf(OpenAI.APIUserAbortError)
    expect(await finishedStatus(alice, delta.runId)).toBe('cancelled')
  })

  test('revoking the key during a non-streamed call answers 401 api_key_revoked and cancels the run', async () => {
    const key = await newKey(alice, 'revoked while waiting')
    const pending = client(key.secret)
      .chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'hang while I revoke' }] })
      .catch((e) => e)
    const delta = await aliceWs.waitFor(
      (f) => f.type === 'message_delta' && aliceWs.eventsOf(f.runId)[0]?.input === 'hang while I revoke',
    )
    expect((await stack.server.api(`/api/keys/${key.id}`, { token: alice.accessToken, method: 'DELETE' })).status).toBe(
      204,
    )
    const error = await pending
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError)
    expect(error.code).toBe('api_key_revoked')
    expect(await finishedStatus(alice, delta.runId)).toBe('cancelled')
  })

  test('revoking the key mid-stream ends the stream with api_key_revoked and cancels the run', async () => {
    const key = await newKey(alice, 'revoked mid-stream')
    const { data: stream, response } = await client(key.secret)
      .chat.completions.create({
        model: 'llama3.2',
        stream: true,
        messages: [{ role: 'user', content: 'hang until revoked' }],
      })
      .withResponse()
    const runId = response.headers.get('x-run-id')!
    const received: string[] = []
    const reading = (async () => {
      for await (const chunk of stream) received.push(chunk.choices[0]?.delta.content ?? '')
    })().then(
      () => undefined,
      (e) => e,
    )
    await aliceWs.waitFor((f) => f.runId === runId && f.type === 'message_delta')
    expect((await stack.server.api(`/api/keys/${key.id}`, { token: alice.accessToken, method: 'DELETE' })).status).toBe(
      204,
    )
    const error = await reading
    expect(error).toBeInstanceOf(OpenAI.APIError)
    expect(error.code).toBe('api_key_revoked')
    expect(received.join('')).toBe('partial answer ')
    expect(await finishedStatus(alice, runId)).toBe('cancelled')
    expect(stack.server.runtime.runs.active.has(runId)).toBe(false)
    const again = await client(key.secret)
      .models.list()
      .catch((e) => e)
    expect(again).toBeInstanceOf(OpenAI.AuthenticationError)
  })
})

describe('isolation', () => {
  test('a /v1 run’s events reach only its owner’s sockets', async () => {
    const bob = await registerUser(stack.server, 'bob-watcher')
    const bobWs = await WsClient.connect(stack.server.wsUrl, bob.accessToken)
    try {
      const { response } = await client(aliceKey.secret)
        .chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content: 'private words' }] })
        .withResponse()
      const runId = response.headers.get('x-run-id')!
      await aliceWs.completion(runId)
      // Bob's socket answers a ping after the run completed: anything of the run would have come first.
      bobWs.send({ type: 'ping' })
      await bobWs.waitFor((f) => f.type === 'pong')
      expect(bobWs.frames.filter((f) => f.runId === runId)).toEqual([])
      expect(JSON.stringify(bobWs.frames)).not.toContain('private words')
    } finally {
      bobWs.close()
    }
  })

  test('concurrent calls of two users’ keys land in their own threads only', async () => {
    const carol = await registerUser(stack.server, 'carol')
    const carolKey = await newKey(carol)
    // Three each: under MAX_RUNS_PER_USER (4) even if a cancelled run of an earlier test still holds its slot.
    const calls = Array.from({ length: 6 }, (_, i) => {
      const [user, key] = i % 2 ? [carol, carolKey] : [alice, aliceKey]
      const content = `parallel ${user === carol ? 'carol' : 'alice'} ${i}`
      return client(key.secret)
        .chat.completions.create({ model: 'llama3.2', messages: [{ role: 'user', content }] })
        .withResponse()
        .then(({ data, response }) => ({
          user,
          content,
          answer: data.choices[0].message.content,
          threadId: response.headers.get('x-thread-id')!,
        }))
    })
    for (const call of await Promise.all(calls)) {
      expect(call.answer).toBe(`echo: ${call.content}`)
      const other = call.user === carol ? alice : carol
      expect((await stack.server.api(`/api/threads/${call.threadId}`, { token: call.user.accessToken })).status).toBe(
        200,
      )
      expect((await stack.server.api(`/api/threads/${call.threadId}`, { token: other.accessToken })).status).toBe(404)
    }
  })
})
