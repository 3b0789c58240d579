/**
 * Structured logs (src/log.ts): one JSON object per line on stdout, the ids of the active user
 * context on every line, secrets redacted at any depth and inside text, and no message bodies
 * below debug level.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { log } from '../../src/log'
import { createUserContext, onIsolationGuard } from '../../src/context/user-context'

let lines: string[] = []
let restore: (() => void) | undefined
let levelBefore = log.level

/** Replaces process.stdout.write so the test sees exactly what the logger writes. */
function captureStdout() {
  const original = process.stdout.write
  lines = []
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const text = typeof chunk === 'string' ? chunk : new TextDecoder().decode(chunk)
    lines.push(...text.split('\n').filter(Boolean))
    const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined
    callback?.()
    return true
  }) as typeof process.stdout.write
  restore = () => {
    process.stdout.write = original
  }
}

/** Every captured line parsed (each must be one JSON object). */
const entries = () => lines.map((line) => JSON.parse(line) as Record<string, any>)
const only = () => {
  expect(lines).toHaveLength(1)
  return entries()[0]
}

beforeEach(() => {
  levelBefore = log.level
  log.setLevel('info')
  captureStdout()
})
afterEach(() => {
  restore?.()
  log.setLevel(levelBefore)
})

describe('log lines', () => {
  test('are one JSON object per line with ts, level and msg', () => {
    log.info('server started', { port: 3000 })
    log.warn('disk almost full', { freeBytes: 1024 })
    const [a, b] = entries()
    expect(lines).toHaveLength(2)
    expect(a).toMatchObject({ level: 'info', msg: 'server started', port: 3000 })
    expect(b).toMatchObject({ level: 'warn', msg: 'disk almost full', freeBytes: 1024 })
    expect(Date.parse(a.ts)).toBeGreaterThan(Date.now() - 60_000)
    expect(Object.keys(a).slice(0, 3)).toEqual(['ts', 'level', 'msg'])
  })

  test('below the level are not written', () => {
    log.setLevel('warn')
    log.debug('noise')
    log.info('more noise')
    log.error('boom')
    expect(entries().map((e) => e.msg)).toEqual(['boom'])
  })

  test('a field cannot overwrite the logger’s own keys', () => {
    log.info('real message', { level: 'error', msg: 'fake', ts: 'yesterday' })
    const line = only()
    expect(line.level).toBe('info')
    expect(line.msg).toBe('real message')
    expect(line['field.level']).toBe('error')
    expect(line['field.msg']).toBe('fake')
  })

  test('odd values never break logging', () => {
    const circular: Record<string, unknown> = { name: 'loop' }
    circular.self = circular
    log.info('odd values', { circular, big: 10n, error: new TypeError('bad input'), when: new Date(0), fn: () => 1 })
    const line = only()
    expect(line.circular).toEqual({ name: 'loop', self: '[circular]' })
    expect(line.big).toBe('10')
    expect(line.error).toEqual({ name: 'TypeError', message: 'bad input' })
    expect(line.when).toBe('1970-01-01T00:00:00.000Z')
    expect('fn' in line).toBe(false)
  })
})

describe('context ids', () => {
  test('every line inside a user context carries its user, request, run and connection ids', async () => {
    const ctx = createUserContext({
      userId: 'user_1',
      role: 'member',
      requestId: 'req_1',
      runId: 'run_1',
      connectionId: 'conn_1',
    })
    await ctx.run(async () => {
      log.info('before await')
      await Bun.sleep(1)
      log.warn('after await') // the ids survive async hops
    })
    const [a, b] = entries()
    for (const line of [a, b])
      expect(line).toMatchObject({ userId: 'user_1', requestId: 'req_1', runId: 'run_1', connectionId: 'conn_1' })
    await ctx.dispose()
  })

  test('a child context (tool call) logs its parent’s ids; concurrent contexts never mix', async () => {
    const alice = createUserContext({ userId: 'alice', role: 'member', runId: 'run_a' })
    const bob = createUserContext({ userId: 'bob', role: 'member', runId: 'run_b' })
    await Promise.all([
      alice.child({ metadata: { tool: 'calculate' } }).run(async () => {
        await Bun.sleep(5)
        log.info('alice tool')
      }),
      bob.run(async () => {
        await Bun.sleep(1)
        log.info('bob run')
      }),
    ])
    const byMsg = Object.fromEntries(entries().map((e) => [e.msg, e]))
    expect(byMsg['alice tool']).toMatchObject({ userId: 'alice', runId: 'run_a' })
    expect(byMsg['bob run']).toMatchObject({ userId: 'bob', runId: 'run_b' })
    await alice.dispose()
    await bob.dispose()
  })

  test('outside any context a line has no user ids (and logging does not trip the isolation guard)', () => {
    let trips = 0
    const stop = onIsolationGuard(() => trips++)
    log.info('system work')
    stop()
    expect(trips).toBe(0)
    const line = only()
    expect('userId' in line).toBe(false)
    expect('runId' in line).toBe(false)
  })
})

describe('redaction', () => {
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ'

  test('secret-named fields are redacted at any depth; token counts are kept', () => {
    log.info('login', {
      email: 'a@example.test',
      password: 'hunter2-password',
      accessToken: jwt,
      refresh_token: 'rt-very-secret-value',
      headers: { Authorization: `Bearer ${jwt}`, cookie: 'session=abc123secret', accept: 'application/json' },
      config: {
        jwtSecret: 'jwt-secret-value-0123456789',
        clientSecret: 'oidc-client-secret',
        apiKey: 'key-123-secret',
      },
      usage: { promptTokens: 12, completionTokens: 34 },
    })
    const text = lines[0]
    for (const secret of [
      'hunter2-password',
      jwt,
      'rt-very-secret-value',
      'abc123secret',
      'jwt-secret-value',
      'oidc-client-secret',
      'key-123-secret',
    ]) {
      expect(text).not.toContain(secret)
    }
    const line = only()
    expect(line.password).toBe('[redacted]')
    expect(line.accessToken).toBe('[redacted]')
    expect(line.refresh_token).toBe('[redacted]')
    expect(line.headers).toEqual({ Authorization: '[redacted]', cookie: '[redacted]', accept: 'application/json' })
    expect(line.config).toEqual({ jwtSecret: '[redacted]', clientSecret: '[redacted]', apiKey: '[redacted]' })
    expect(line.usage).toEqual({ promptTokens: 12, completionTokens: 34 })
    expect(line.email).toBe('a@example.test')
  })

  test('bearer tokens, JWTs, URL credentials and token query parameters are masked inside text', () => {
    log.error(`request failed with Authorization: Bearer ${jwt}`, {
      error: `upstream said: invalid token ${jwt}`,
      url: 'https://user:p4ssw0rd@db.example.test/chat?token=abc123&x=1',
      callback: 'http://localhost/cb?code=oauth-code-123&state=s1',
    })
    const text = lines[0]
    for (const secret of [jwt, 'p4ssw0rd', 'abc123', 'oauth-code-123']) expect(text).not.toContain(secret)
    const line = only()
    expect(line.msg).toBe('request failed with Authorization: Bearer [redacted]')
    expect(line.error).toBe('upstream said: invalid token [redacted-jwt]')
    expect(line.url).toBe('https://***:***@db.example.test/chat?token=[redacted]&x=1')
    expect(line.callback).toBe('http://localhost/cb?code=[redacted]&state=s1')
  })

  test('message bodies are left out at info level and shown at debug', () => {
    const secretText = 'my bank PIN is 4321, remember it'
    log.info('chat received', { content: secretText, messages: [{ role: 'user', content: secretText }], runs: 1 })
    log.warn('tool failed', { tool: 'save_note', args: { title: 'x', body: secretText } })
    expect(lines.join('\n')).not.toContain('4321')
    const [info, warn] = entries()
    expect(info.content).toBe(`[${secretText.length} chars]`)
    expect(info.messages).toBe('[1 items]')
    expect(info.runs).toBe(1)
    expect(warn.args).toBe('[omitted]')
    expect(warn.tool).toBe('save_note')

    lines = []
    log.setLevel('debug')
    log.debug('chat received', { content: secretText })
    expect(only().content).toBe(secretText)
  })
})
