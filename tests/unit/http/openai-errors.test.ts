/** Errors on /v1/* take OpenAI's shape (PROTOCOL.md §7); everywhere else §2's envelope stays. */
import { describe, expect, test } from 'bun:test'
import { Elysia, t } from 'elysia'
import { AppError, errorHandler } from '../../../src/http/errors'
import { log } from '../../../src/log'

log.setLevel('silent') // the crash below is logged on purpose

const quota = () =>
  new AppError(429, 'quota_exceeded', 'you used your 100 runs of the last 24 hours', { 'Retry-After': '1800' })

const app = new Elysia()
  .use(errorHandler)
  .get('/v1/quota', () => {
    throw quota()
  })
  .get('/api/quota', () => {
    throw quota()
  })
  .get('/v1/busy', () => {
    throw new AppError(429, 'too_many_runs', 'you already have 4 runs in progress', { 'Retry-After': '1' })
  })
  .get('/v1/crash', () => {
    throw new Error('secret internals at /src/x.ts:1:2')
  })
  .post('/v1/typed', ({ body }) => body, { body: t.Object({ n: t.Number() }) })

const call = (path: string, init?: RequestInit) => app.handle(new Request(`http://local${path}`, init))

describe('OpenAI error shape on /v1', () => {
  test('a quota refusal is 429 insufficient_quota with Retry-After', async () => {
    const res = await call('/v1/quota')
    expect(res.status).toBe(429)
    expect(res.headers.get('retry-after')).toBe('1800')
    expect(await res.json()).toEqual({
      error: {
        message: 'you used your 100 runs of the last 24 hours',
        type: 'insufficient_quota',
        code: 'quota_exceeded',
      },
    })
  })

  test('too_many_runs is 429 rate_limit_error', async () => {
    const res = await call('/v1/busy')
    expect(res.status).toBe(429)
    expect(((await res.json()) as any).error).toMatchObject({ type: 'rate_limit_error', code: 'too_many_runs' })
  })

  test('validation, bad JSON, unknown routes and crashes: OpenAI shape, no internals', async () => {
    const typed = await call('/v1/typed', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"n":"x"}',
    })
    expect(typed.status).toBe(400)
    expect(((await typed.json()) as any).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_input' })
    const bad = await call('/v1/typed', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' })
    expect(((await bad.json()) as any).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json' })
    const missing = await call('/v1/nothing-here')
    expect(missing.status).toBe(404)
    expect(((await missing.json()) as any).error).toMatchObject({ type: 'not_found_error', code: 'not_found' })
    const crash = await call('/v1/crash')
    expect(crash.status).toBe(500)
    const text = await crash.text()
    expect(JSON.parse(text).error).toMatchObject({ type: 'server_error', code: 'internal_error' })
    expect(text).not.toContain('secret internals')
  })

  test('outside /v1 the §2 envelope is unchanged', async () => {
    const res = await call('/api/quota')
    expect(res.status).toBe(429)
    expect(await res.json()).toEqual({
      error: { code: 'quota_exceeded', message: 'you used your 100 runs of the last 24 hours' },
    })
  })
})
