/**
 * The circuit breaker in front of Ollama, against the scripted Ollama (real `ollama` client,
 * real HTTP): a host that answers 503 or is not listening opens its circuit, runs then fail
 * fast with llm_unavailable (and still end with agent_completed), and after the cooldown one
 * probe closes it again. /ready shows each host's circuit state.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { lastUserText, startChatStack, type ChatStack } from '../../support/chat-stack'
import { startFakeOllama, type ChatHandler, type FakeOllama, type Reply } from '../../support/fake-ollama'
import { seqProblem, type WsClient } from '../../support/ws-client'
import { createOllamaProvider, type OllamaProvider } from '../../../src/llm'
import { LlmError, type ChatRequest } from '../../../src/llm/provider'

setDefaultTimeout(30_000) // real servers and sockets on a shared 2-core machine

const echo: ChatHandler = (req) => ({ content: `echo: ${lastUserText(req.messages)}` })

async function ready(stack: ChatStack) {
  const res = await stack.adminReady()
  expect(res.status).toBe(200)
  return (await res.json()) as {
    ollama: string
    ollamaHosts: { host: string; reachable: boolean; circuit: string }[]
    ollamaQueue: unknown
  }
}

async function circuitOf(stack: ChatStack) {
  return (await ready(stack)).ollamaHosts[0].circuit
}

/** Polls /ready until the circuit is in `state` (the cooldown is real time). */
async function waitForCircuit(stack: ChatStack, state: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs
  while ((await circuitOf(stack)) !== state) {
    if (Date.now() > deadline) throw new Error(`circuit never became ${state}`)
    await Bun.sleep(50)
  }
}

/** Runs one chat to its end and returns its agent_completed (after checking the journal). */
async function runToEnd(ws: WsClient, content: string) {
  const { runId } = await ws.chat(content)
  const events = await ws.completion(runId)
  expect(seqProblem(events)).toBeUndefined()
  expect(events.filter((e) => e.type === 'agent_completed')).toHaveLength(1)
  expect(events.at(-1)!.type).toBe('agent_completed')
  return events.at(-1)!
}

const stacks: ChatStack[] = []
const extraFakes: FakeOllama[] = []
afterAll(async () => {
  for (const s of stacks) await s.close()
  for (const f of extraFakes) await f.close()
})

describe('a host answering 503', () => {
  test('opens the circuit after BREAKER_FAILURES; runs fail fast; after the cooldown a probe closes it', async () => {
    const stack = await startChatStack({ env: { BREAKER_FAILURES: '2', BREAKER_COOLDOWN_MS: '2500' }, handler: echo })
    stacks.push(stack)
    const { ws } = await stack.userWithSocket()
    expect(await circuitOf(stack)).toBe('closed')

    stack.ollama.enqueue(
      { httpError: 503, message: 'server busy, please try again' },
      { httpError: 503, message: 'server busy, please try again' },
    )
    for (const content of ['first', 'second']) {
      const done = await runToEnd(ws, content)
      expect(done.status).toBe('failed')
      expect(done.error.code).toBe('llm_unavailable')
    }
    const body = await ready(stack)
    expect(body.ollamaHosts).toEqual([
      expect.objectContaining({ host: stack.ollama.url, reachable: true, circuit: 'open' }),
    ])

    // Open: the run fails at once with a message saying the host is down, without a request to Ollama.
    const before = stack.ollama.requests.length
    const fast = await runToEnd(ws, 'third')
    expect(fast.status).toBe('failed')
    expect(fast.error.code).toBe('llm_unavailable')
    expect(fast.error.message).toContain(`Ollama at ${stack.ollama.url} is down`)
    expect(fast.error.message).toContain('ollama serve')
    expect(fast.message.content).toBe('') // the answer keeps only what was streamed; the failure is its error
    expect(stack.ollama.requests.length).toBe(before)

    // After the cooldown: half-open, and the next run is the probe; it succeeds and closes the circuit.
    await waitForCircuit(stack, 'half_open')
    const probe = await runToEnd(ws, 'fourth')
    expect(probe.status).toBe('completed')
    expect(probe.message.content).toBe('echo: fourth')
    expect(await circuitOf(stack)).toBe('closed')
    expect(stack.ollama.requests.length).toBe(before + 1)

    // Closed again: calls flow normally.
    expect((await runToEnd(ws, 'fifth')).status).toBe('completed')
  })

  test('4xx answers (model not pulled) never open the circuit', async () => {
    const stack = await startChatStack({ env: { BREAKER_FAILURES: '2', BREAKER_COOLDOWN_MS: '60000' }, handler: echo })
    stacks.push(stack)
    const { ws } = await stack.userWithSocket()
    for (let i = 0; i < 3; i++)
      stack.ollama.enqueue({ httpError: 404, message: 'model "nope" not found, try pulling it first' })
    for (let i = 0; i < 3; i++) {
      const { runId } = await ws.chat(`try ${i}`, { model: 'nope' })
      expect((await ws.completion(runId)).at(-1)!.error.code).toBe('model_not_found')
    }
    expect(await circuitOf(stack)).toBe('closed')
  })
})

describe("one user's failing requests", () => {
  /** The scripted model fails on "poison" questions (a 500, or an error line mid-stream) and answers the rest. */
  const picky: ChatHandler = (req) => {
    const text = lastUserText(req.messages)
    if (text.startsWith('poison-500')) return { httpError: 500, message: 'this prompt broke the runner' }
    if (text.startsWith('poison-stream')) return { streamError: 'tensor shape mismatch', afterContent: 'Half an ans' }
    return { content: `echo: ${text}` }
  }

  test("500s and mid-stream errors of some users' requests never fail another user's run", async () => {
    const stack = await startChatStack({ env: { BREAKER_FAILURES: '3', BREAKER_COOLDOWN_MS: '60000' }, handler: picky })
    stacks.push(stack)
    const alice = await stack.userWithSocket('alice')
    const bob = await stack.userWithSocket('bob')
    const carol = await stack.userWithSocket('carol')
    const dave = await stack.userWithSocket('dave')

    // Four failures in a row: alice's prompt trips a 500 twice, bob's and carol's break mid-stream.
    const failures = [
      await runToEnd(alice.ws, 'poison-500 one'),
      await runToEnd(bob.ws, 'poison-stream one'),
      await runToEnd(carol.ws, 'poison-stream two'),
      await runToEnd(alice.ws, 'poison-500 two'),
    ]
    expect(failures.map((f) => [f.status, f.error.code])).toEqual([
      ['failed', 'llm_error'],
      ['failed', 'llm_error'],
      ['failed', 'llm_error'],
      ['failed', 'llm_error'],
    ])
    expect(await circuitOf(stack)).toBe('closed')

    // Everyone else (and the same users with other questions) is answered as usual.
    const fine = await runToEnd(dave.ws, 'a normal question')
    expect(fine.status).toBe('completed')
    expect(fine.message.content).toBe('echo: a normal question')
    expect((await runToEnd(bob.ws, 'and another')).status).toBe('completed')
  })

  test('the same 500 for requests of two users (the host is broken for everyone) opens the circuit; others then fail fast', async () => {
    const stack = await startChatStack({
      env: { BREAKER_FAILURES: '2', BREAKER_COOLDOWN_MS: '60000' },
      handler: () => ({ httpError: 500, message: 'model failed to load: out of memory' }),
    })
    stacks.push(stack)
    const alice = await stack.userWithSocket('alice')
    const bob = await stack.userWithSocket('bob')
    const carol = await stack.userWithSocket('carol')
    // One user alone: a 500 may be about their request.
    expect((await runToEnd(alice.ws, 'first')).error.code).toBe('llm_error')
    expect(await circuitOf(stack)).toBe('closed')
    // A second user gets it too: the host is broken.
    expect((await runToEnd(bob.ws, 'second')).error.code).toBe('llm_error')
    expect(await circuitOf(stack)).toBe('open')
    const before = stack.ollama.requests.length
    const fast = await runToEnd(carol.ws, 'third')
    expect(fast.error.code).toBe('llm_unavailable')
    expect(fast.error.message).toContain('ollama serve')
    expect(stack.ollama.requests.length).toBe(before)
  })
})

describe('a host that is not running', () => {
  test('opens the circuit, a failed probe reopens it, and once Ollama is back a probe closes it', async () => {
    const stack = await startChatStack({ env: { BREAKER_FAILURES: '2', BREAKER_COOLDOWN_MS: '1500' }, handler: echo })
    stacks.push(stack)
    const { ws } = await stack.userWithSocket()
    const port = stack.ollama.port
    await stack.ollama.close() // connection refused from now on

    for (const content of ['one', 'two']) {
      const done = await runToEnd(ws, content)
      expect(done.error.code).toBe('llm_unavailable')
      expect(done.error.message).toContain('ollama serve')
    }
    let body = await ready(stack)
    expect(body.ollama).toBe('unreachable')
    expect(body.ollamaHosts[0]).toMatchObject({ reachable: false, circuit: 'open' })

    const fast = await runToEnd(ws, 'three')
    expect(fast.error.code).toBe('llm_unavailable')
    expect(fast.error.message).toContain('is down')

    // The probe after the cooldown still finds nobody: the circuit opens again.
    await waitForCircuit(stack, 'half_open')
    const failedProbe = await runToEnd(ws, 'four')
    expect(failedProbe.error.code).toBe('llm_unavailable')
    expect(await circuitOf(stack)).toBe('open')

    // Ollama comes back on the same address; the next probe closes the circuit.
    const back = await startFakeOllama({ port, handler: echo })
    extraFakes.push(back)
    await waitForCircuit(stack, 'half_open')
    const ok = await runToEnd(ws, 'five')
    expect(ok.status).toBe('completed')
    expect(ok.message.content).toBe('echo: five')
    body = await ready(stack)
    expect(body.ollama).toBe('reachable')
    expect(body.ollamaHosts[0]).toMatchObject({ reachable: true, circuit: 'closed' })
  })
})

describe('the provider over several hosts', () => {
  const providers: OllamaProvider[] = []
  afterAll(() => {
    for (const p of providers) p.close()
  })

  const request = (userId: string, signal = new AbortController().signal, content = 'hi'): ChatRequest => ({
    model: 'llama3.2',
    messages: [{ role: 'user', content }],
    signal,
    userId,
  })
  async function drain(provider: OllamaProvider, req: ChatRequest): Promise<string> {
    let text = ''
    for await (const chunk of provider.chat(req)) text += chunk.content ?? ''
    return text
  }
  async function deadUrl() {
    const f = await startFakeOllama()
    await f.close()
    return f.url
  }
  async function until(check: () => boolean, what: string) {
    const deadline = Date.now() + 10_000
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await Bun.sleep(5)
    }
  }

  test('least-loaded selection spreads calls; a host with an open circuit gets none', async () => {
    const a = await startFakeOllama({ handler: () => ({ hang: true }) })
    const b = await startFakeOllama({ handler: () => ({ hang: true }) })
    extraFakes.push(a, b)
    const dead = await deadUrl()
    const provider = createOllamaProvider([dead, a.url, b.url], {
      slots: 1,
      breakerFailures: 1,
      breakerCooldownMs: 60_000,
    })
    providers.push(provider)

    // The dead host is first and idle: it gets the first call, fails, and its circuit opens.
    await expect(drain(provider, request('u1'))).rejects.toMatchObject({ code: 'llm_unavailable' })
    expect(provider.circuits()).toEqual({ [dead]: 'open', [a.url]: 'closed', [b.url]: 'closed' })

    // Two calls at once: one per live host, none to the dead one.
    const controllers = [new AbortController(), new AbortController(), new AbortController()]
    const calls = controllers.map((c, i) => drain(provider, request(`user${i}`, c.signal)).catch((e) => e))
    await until(() => a.inFlight() === 1 && b.inFlight() === 1, 'one call on each live host')
    // The third waits in the fair queue (2 live hosts × 1 slot) instead of going to the dead host.
    expect(provider.depths()).toEqual({ 'llama3.2': 1 })
    expect(provider.inFlight).toBe(2)

    const status = await provider.status()
    expect(status.hosts.map((h) => [h.host, h.circuit])).toEqual([
      [dead, 'open'],
      [a.url, 'closed'],
      [b.url, 'closed'],
    ])
    expect(status.queue).toEqual({ depths: { 'llama3.2': 1 }, queued: 1, inFlight: 2 })

    // Abort everything: slots are released, the waiter leaves the queue, nothing leaks.
    for (const c of controllers) c.abort(new Error('stop'))
    await Promise.all(calls)
    expect(provider.inFlight).toBe(0)
    expect(provider.depths()).toEqual({})
    expect(provider.hosts.map((h) => h.inFlight)).toEqual([0, 0, 0])
  })

  test('the slot is held for the whole streamed answer and released when it ends', async () => {
    const fake = await startFakeOllama({
      handler: () => ({ content: 'a slow streamed answer', chunkSize: 2, chunkDelayMs: 5 }),
    })
    extraFakes.push(fake)
    const provider = createOllamaProvider([fake.url], { slots: 1 })
    providers.push(provider)
    const seen: number[] = []
    for await (const chunk of provider.chat(request('u'))) if (chunk.content) seen.push(provider.inFlight)
    expect(new Set(seen)).toEqual(new Set([1]))
    expect(provider.inFlight).toBe(0)
    fake.enqueue({ streamError: 'boom', afterContent: 'par' })
    await expect(drain(provider, request('u'))).rejects.toMatchObject({ code: 'llm_error' })
    expect(provider.inFlight).toBe(0)
  })

  test('when every host is open, calls fail fast, and waiting calls are failed too', async () => {
    // The first call is held until the test lets it fail; two more wait behind it.
    let fail!: (reply: Reply) => void
    const fake = await startFakeOllama({ handler: () => new Promise<Reply>((resolve) => (fail = resolve)) })
    extraFakes.push(fake)
    const provider = createOllamaProvider([fake.url], { slots: 1, breakerFailures: 1, breakerCooldownMs: 60_000 })
    providers.push(provider)

    const first = drain(provider, request('a')).catch((e) => e)
    await until(() => fake.requests.length === 1, 'the first call at the host')
    const waiting = [drain(provider, request('b')).catch((e) => e), drain(provider, request('c')).catch((e) => e)]
    await until(() => provider.scheduler.queued === 2, 'two calls queued')

    fail({ httpError: 503, message: 'server busy' })
    const errors = [await first, ...(await Promise.all(waiting))]
    for (const e of errors) {
      expect(e).toBeInstanceOf(LlmError)
      expect(e.code).toBe('llm_unavailable')
    }
    expect(errors[1].message).toContain('is down')
    expect(fake.requests).toHaveLength(1) // the waiting calls never reached the host
    expect(provider.scheduler.queued).toBe(0)

    // A new call fails at once, without queueing or reaching the host.
    await expect(drain(provider, request('d'))).rejects.toMatchObject({ code: 'llm_unavailable' })
    expect(fake.requests).toHaveLength(1)
    expect(provider.inFlight).toBe(0)
  })
})
