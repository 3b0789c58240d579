/** How a run that did not complete, or a refused start, becomes an HTTP status on /v1. */
import { describe, expect, test } from 'bun:test'
import { AppError } from '../../../src/http/errors'
import { runFailure, withRetryAfter } from '../../../src/openai/failures'

const completed = (code: string, extra: Record<string, unknown> = {}) =>
  ({
    type: 'agent_completed',
    status: 'failed',
    message: { id: 'm', content: '' },
    error: { code, message: `${code} happened`, ...extra },
    runId: 'r',
    threadId: 't',
    seq: 3,
    ts: '',
    agent: 'triage',
  }) as any

describe('runFailure', () => {
  test.each([
    ['llm_unavailable', 503],
    ['server_shutdown', 503],
    ['model_not_found', 404],
    ['too_many_runs', 429],
    ['timeout', 504],
    ['llm_error', 502],
    ['internal_error', 500],
  ])('%s → %d', (code, status) => {
    const error = runFailure(completed(code), undefined)
    expect(error.status).toBe(status)
    expect(error.code).toBe(code)
    expect(error.message).toBe(`${code} happened`)
  })

  test('a revoked key wins over the cancel it caused', () => {
    const error = runFailure({ ...completed('cancelled'), status: 'cancelled' }, 'revoked')
    expect([error.status, error.code]).toEqual([401, 'api_key_revoked'])
  })

  test('429s carry Retry-After: the quota’s own seconds, else 1', () => {
    expect(runFailure(completed('quota_exceeded', { retryAfter: 42.3 }), undefined).headers['Retry-After']).toBe('43')
    expect(runFailure(completed('too_many_runs'), undefined).headers['Retry-After']).toBe('1')
    const refused = withRetryAfter(
      Object.assign(new AppError(429, 'quota_exceeded', 'over quota'), { retryAfter: 120 }),
    ) as AppError
    expect(refused.headers['Retry-After']).toBe('120')
    expect((withRetryAfter(new AppError(429, 'too_many_runs', 'busy')) as AppError).headers['Retry-After']).toBe('1')
    const given = new AppError(429, 'quota_exceeded', 'q', { 'Retry-After': '7' })
    expect(withRetryAfter(given)).toBe(given)
    const other = new AppError(404, 'not_found', 'x')
    expect(withRetryAfter(other)).toBe(other)
  })
})
