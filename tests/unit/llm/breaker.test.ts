import { describe, expect, test } from 'bun:test'
import { CircuitBreaker, HostBreakers, verdictOf, type CircuitState } from '../../../src/llm/breaker'
import { LlmError } from '../../../src/llm/provider'

const HOST = 'http://gpu1:11434'

/** A breaker on a hand-driven clock, recording its state changes. */
function breaker(failures = 3, cooldownMs = 10_000) {
  let now = 1_000_000
  const changes: [CircuitState, CircuitState][] = []
  const b = new CircuitBreaker(HOST, {
    failures,
    cooldownMs,
    now: () => now,
    onStateChange: (host, from, to) => host === HOST && changes.push([from, to]),
  })
  return {
    b,
    changes,
    advance: (ms: number) => void (now += ms),
    /** One call (of `userId`) through the breaker that fails with `error`. */
    fail: (error: unknown = new LlmError('llm_unavailable', 'refused'), userId = 'u1') => {
      const permit = b.enter(userId)
      permit.failure(error)
      permit.done()
    },
    succeed: () => {
      const permit = b.enter()
      permit.success()
      permit.done()
    },
  }
}

const down = () => new LlmError('llm_unavailable', 'connection refused')
const http = (status: number, code: 'llm_error' | 'llm_unavailable' | 'model_not_found' = 'llm_error') =>
  new LlmError(code, `status ${status}`, status)
const abort = () => Object.assign(new Error('aborted'), { name: 'AbortError' })

describe('what counts as a failure', () => {
  test('refused, 502/503/504 and time-outs before headers say "down"; a 500 is suspect; mid-stream errors, 4xx and aborts are the request\'s', () => {
    expect(verdictOf(down())).toBe('down')
    expect(verdictOf(http(503, 'llm_unavailable'))).toBe('down')
    expect(verdictOf(new LlmError('llm_unavailable', 'did not answer in time'))).toBe('down')
    expect(verdictOf(new TypeError('fetch failed'))).toBe('down')
    expect(verdictOf(http(500))).toBe('suspect')
    expect(verdictOf(new LlmError('llm_error', 'The model failed while answering: GPU fell over'))).toBe('ignore')
    expect(verdictOf(http(404, 'model_not_found'))).toBe('answered')
    expect(verdictOf(http(400))).toBe('answered')
    expect(verdictOf(abort())).toBe('ignore')
    expect(verdictOf(Object.assign(new Error('t'), { name: 'TimeoutError' }))).toBe('ignore')
    expect(verdictOf(new LlmError('too_many_runs', 'mine'))).toBe('ignore')
  })
})

describe("one user's failing requests never open the circuit for everyone", () => {
  const midStream = () => new LlmError('llm_error', 'The model failed while answering: bad input')

  test('mid-stream errors never count, from however many users', () => {
    const t = breaker(2)
    for (const user of ['a', 'b', 'c', 'd']) {
      const permit = t.b.enter(user)
      permit.answered()
      permit.failure(midStream())
      permit.done()
    }
    expect(t.b.failures).toBe(0)
    expect(t.b.state).toBe('closed')
  })

  test("500s of one user's requests never open it; the same 500s across two users do", () => {
    const t = breaker(3)
    for (let i = 0; i < 6; i++) t.fail(http(500), 'alice')
    expect(t.b.state).toBe('closed')
    t.fail(http(500), 'bob')
    expect(t.b.state).toBe('open') // the last three: alice, alice, bob
  })

  test('a 500 to one request while the host answered others counts against that request only', () => {
    const t = breaker(2)
    const slow = t.b.enter('alice')
    const other = t.b.enter('bob')
    other.answered() // the host is answering bob meanwhile
    slow.failure(http(500))
    slow.done()
    expect(t.b.failures).toBe(0)
    other.failure(midStream())
    other.done()
    // Without anyone answered in between, two users' 500s are evidence.
    t.fail(http(500), 'carol')
    t.fail(http(500), 'dave')
    expect(t.b.state).toBe('open')
  })

  test('a host that does not answer opens it even for a single user (Ollama down)', () => {
    const t = breaker(3)
    for (let i = 0; i < 3; i++) t.fail(down(), 'alone')
    expect(t.b.state).toBe('open')
  })
})

describe('the state machine', () => {
  test('closed → open after N consecutive failures; then every call fails fast', () => {
    const t = breaker(3)
    t.fail()
    t.fail()
    expect(t.b.state).toBe('closed')
    expect(t.b.failures).toBe(2)
    t.fail(http(503, 'llm_unavailable'))
    expect(t.b.state).toBe('open')
    expect(t.changes).toEqual([['closed', 'open']])
    let thrown: unknown
    try {
      t.b.enter()
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(LlmError)
    expect((thrown as LlmError).code).toBe('llm_unavailable')
    expect((thrown as LlmError).message).toContain(`Ollama at ${HOST} is down`)
    expect((thrown as LlmError).message).toContain('ollama serve')
    expect(t.b.available).toBe(false)
  })

  test('failures must be consecutive: a success (or a 4xx answer) resets the count', () => {
    const t = breaker(3)
    t.fail()
    t.fail()
    t.succeed()
    t.fail()
    t.fail()
    expect(t.b.state).toBe('closed')
    t.fail(http(404, 'model_not_found'))
    expect(t.b.failures).toBe(0)
    t.fail()
    t.fail()
    expect(t.b.state).toBe('closed')
  })

  test('4xx answers and aborts never open the circuit', () => {
    const t = breaker(2)
    for (let i = 0; i < 5; i++) t.fail(http(404, 'model_not_found'))
    for (let i = 0; i < 5; i++) t.fail(abort())
    t.fail()
    expect(t.b.failures).toBe(1)
    expect(t.b.state).toBe('closed')
  })

  test('after the cooldown: half-open, exactly one probe; its success closes the circuit', () => {
    const t = breaker(1, 5000)
    t.fail()
    expect(t.b.state).toBe('open')
    t.advance(4999)
    expect(t.b.state).toBe('open')
    expect(t.b.retryInMs).toBe(1)
    t.advance(1)
    expect(t.b.state).toBe('half_open')
    const probe = t.b.enter()
    // While the probe is out, other calls fail fast.
    expect(() => t.b.enter()).toThrow(LlmError)
    expect(t.b.available).toBe(false)
    // The host answering is enough: a long answer need not finish first.
    probe.answered()
    expect(t.b.state).toBe('closed')
    probe.success()
    probe.done()
    expect(t.changes).toEqual([
      ['closed', 'open'],
      ['open', 'half_open'],
      ['half_open', 'closed'],
    ])
    t.succeed()
    t.succeed()
  })

  test('a failed probe reopens the circuit for a new cooldown', () => {
    const t = breaker(2, 1000)
    t.fail()
    t.fail()
    t.advance(1000)
    expect(t.b.state).toBe('half_open')
    t.fail()
    expect(t.b.state).toBe('open')
    t.advance(999)
    expect(t.b.state).toBe('open')
    t.advance(1)
    t.succeed()
    expect(t.changes.map(([, to]) => to)).toEqual(['open', 'half_open', 'open', 'half_open', 'closed'])
  })

  test('a probe that was aborted frees the probe place and leaves the circuit half-open', () => {
    const t = breaker(1, 100)
    t.fail()
    t.advance(100)
    t.fail(abort())
    expect(t.b.state).toBe('half_open')
    expect(t.b.available).toBe(true)
    const probe = t.b.enter()
    probe.done() // ended without a word (the consumer stopped reading)
    expect(t.b.available).toBe(true)
  })

  test('a failure after the host answered (mid-stream) does not count: the host is up', () => {
    const t = breaker(2)
    for (let i = 0; i < 2; i++) {
      const permit = t.b.enter(`user${i}`)
      permit.answered()
      permit.failure(new LlmError('llm_error', 'The model failed while answering: boom'))
      permit.done()
    }
    expect(t.b.state).toBe('closed')
  })

  test('the cooldown turns the circuit half-open on time without anyone asking', async () => {
    const changes: string[] = []
    const b = new CircuitBreaker(HOST, { failures: 1, cooldownMs: 30, onStateChange: (_h, _f, to) => changes.push(to) })
    b.recordFailure()
    expect(changes).toEqual(['open'])
    await Bun.sleep(80)
    expect(changes).toEqual(['open', 'half_open'])
    b.dispose()
  })
})

describe('breakers per host', () => {
  test('each host has its own circuit; changes of all are observable in one place', () => {
    const seen: string[] = []
    const breakers = new HostBreakers(['http://a', 'http://b'], { failures: 1, cooldownMs: 1000 })
    const off = breakers.onStateChange((host, from, to) => seen.push(`${host} ${from}→${to}`))
    breakers.get('http://a').recordFailure()
    expect(breakers.state('http://a')).toBe('open')
    expect(breakers.state('http://b')).toBe('closed')
    expect(breakers.states()).toEqual({ 'http://a': 'open', 'http://b': 'closed' })
    expect(seen).toEqual(['http://a closed→open'])
    off()
    breakers.get('http://b').recordFailure()
    expect(seen).toHaveLength(1)
    expect(() => breakers.get('http://c')).toThrow()
    breakers.dispose()
  })
})
