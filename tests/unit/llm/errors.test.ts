import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { LlmError, OllamaHost, mapOllamaError } from '../../../src/llm/provider'
import { CircuitBreaker } from '../../../src/llm/breaker'
import { startFakeOllama, type FakeOllama } from '../../support/fake-ollama'

const HOST = 'http://gpu1:11434'

/** What the `ollama` client throws for an HTTP error answer (it does not export the class). */
function responseError(status: number, message: string) {
  return Object.assign(new Error(message), { name: 'ResponseError', error: message, status_code: status })
}

const mapped = (error: unknown, answered = false) => mapOllamaError(error, HOST, 'qwen3', answered) as LlmError

describe('mapOllamaError', () => {
  test('404 about the model → model_not_found, saying how to pull it', () => {
    const e = mapped(responseError(404, 'model "qwen3" not found, try pulling it first'))
    expect(e).toBeInstanceOf(LlmError)
    expect(e.code).toBe('model_not_found')
    expect(e.status).toBe(404)
    expect(e.message).toContain('ollama pull qwen3')
    expect(e.message).toContain(HOST)
  })

  test('another 404 or 4xx → llm_error with the status and what Ollama said', () => {
    const notFound = mapped(responseError(404, 'page not found'))
    expect(notFound.code).toBe('llm_error')
    expect(notFound.status).toBe(404)
    const bad = mapped(responseError(400, 'registry.ollama.ai/library/qwen3 does not support thinking'))
    expect(bad.code).toBe('llm_error')
    expect(bad.status).toBe(400)
    expect(bad.message).toContain('does not support thinking')
  })

  test('502, 503, 504 → llm_unavailable (busy or down), with the status', () => {
    for (const status of [502, 503, 504]) {
      const e = mapped(responseError(status, 'server busy, please try again. maximum pending requests exceeded'))
      expect(e.code).toBe('llm_unavailable')
      expect(e.status).toBe(status)
      expect(e.message).toContain(HOST)
      expect(e.message).toContain('busy')
    }
  })

  test('500 → llm_error with the status and the message', () => {
    const e = mapped(responseError(500, 'out of memory'))
    expect(e.code).toBe('llm_error')
    expect(e.status).toBe(500)
    expect(e.message).toContain('out of memory')
  })

  test('no answer at all (connection refused) → llm_unavailable saying how to start Ollama', () => {
    const refused = Object.assign(new TypeError('fetch failed'), { code: 'ConnectionRefused' })
    const e = mapped(refused)
    expect(e.code).toBe('llm_unavailable')
    expect(e.status).toBeUndefined()
    expect(e.message).toContain(`not reachable at ${HOST}`)
    expect(e.message).toContain('ollama serve')
    expect(e.message).toContain('OLLAMA_HOST')
  })

  test('a failure after the response headers (mid-stream) → llm_error, not "unreachable"', () => {
    const e = mapped(new Error('GPU fell over'), true)
    expect(e.code).toBe('llm_error')
    expect(e.status).toBeUndefined()
    expect(e.message).toContain('GPU fell over')
  })

  test("a transport time-out before the first byte → llm_unavailable (the run's own aborts never get here)", () => {
    const timeout = Object.assign(new Error('timed out'), { name: 'TimeoutError' })
    const e = mapped(timeout)
    expect(e.code).toBe('llm_unavailable')
    expect(e.message).toContain('did not answer in time')
    expect(mapped(timeout, true).code).toBe('llm_error')
  })

  test('our own errors pass through unchanged', () => {
    const ours = new LlmError('too_many_runs', 'wait')
    expect(mapOllamaError(ours, HOST, 'm', false)).toBe(ours)
  })

  test('the new queue codes are LlmError codes', () => {
    expect(new LlmError('too_many_runs', 'x', 429).code).toBe('too_many_runs')
    expect(new LlmError('server_busy', 'x', 503).code).toBe('server_busy')
  })
})

describe('what the real ollama client throws, mapped (against the scripted Ollama)', () => {
  let fake: FakeOllama
  beforeAll(async () => {
    fake = await startFakeOllama()
  })
  afterAll(() => fake.close())

  async function failureOf(host: OllamaHost, model = 'llama3.2') {
    try {
      for await (const _ of host.chat({
        model,
        messages: [{ role: 'user', content: 'hi' }],
        signal: new AbortController().signal,
        userId: 'u',
      })) {
      }
    } catch (error) {
      return error as LlmError
    }
    throw new Error('the call did not fail')
  }

  test('HTTP 503, 404, 500, a mid-stream error, and a closed port; the breaker counts only what can mean the host is down', async () => {
    const breaker = new CircuitBreaker(fake.url, { failures: 100, cooldownMs: 1000 })
    const host = new OllamaHost(fake.url, breaker)

    fake.enqueue({ httpError: 503, message: 'server busy' })
    expect((await failureOf(host)).code).toBe('llm_unavailable')
    expect(breaker.failures).toBe(1)

    fake.enqueue({ httpError: 404, message: 'model "nope" not found, try pulling it first' })
    const notFound = await failureOf(host, 'nope')
    expect(notFound.code).toBe('model_not_found')
    expect(breaker.failures).toBe(0) // the host answered

    fake.enqueue({ httpError: 500, message: 'out of memory' })
    const oom = await failureOf(host)
    expect(oom.code).toBe('llm_error')
    expect(oom.status).toBe(500)
    expect(breaker.failures).toBe(1) // a 500 may be the host's (counted) or this request's (see the breaker tests)

    fake.enqueue({ streamError: 'GPU fell over', afterContent: 'Part' })
    const mid = await failureOf(host)
    expect(mid.code).toBe('llm_error')
    expect(mid.message).toContain('GPU fell over')
    expect(breaker.failures).toBe(1) // the host answered; the failure is this answer's

    const closed = await startFakeOllama()
    const url = closed.url
    await closed.close()
    const refused = await failureOf(new OllamaHost(url))
    expect(refused.code).toBe('llm_unavailable')
    expect(refused.message).toContain('ollama serve')
    expect(host.inFlight).toBe(0)
    breaker.dispose()
  })
})
