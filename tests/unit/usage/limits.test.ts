/** The quota arithmetic: window totals, reset time, and the wait until one more run fits. */
import { test, expect, describe } from 'bun:test'
import { Elysia } from 'elysia'
import { quotaStatus, secondsUntilFits } from '../../../src/usage/limits'
import { errorHandler, QuotaExceededError } from '../../../src/http/errors'

const DAY = 24 * 60 * 60 * 1000
const now = Date.parse('2026-06-01T12:00:00Z')
const ago = (ms: number, tokens = 0) => ({ at: now - ms, tokens })

describe('secondsUntilFits', () => {
  test('0 when under every limit or when there are no limits', () => {
    expect(secondsUntilFits({ runsPerDay: 3, tokensPerDay: 0 }, [ago(1000), ago(500)], now)).toBe(0)
    expect(
      secondsUntilFits(
        { runsPerDay: 0, tokensPerDay: 0 },
        Array.from({ length: 50 }, (_, i) => ago(i * 1000, 100)),
        now,
      ),
    ).toBe(0)
  })

  test('runs: waits for the oldest run that must leave (the count − limit + 1-th oldest)', () => {
    const events = [ago(10 * 3600_000), ago(5 * 3600_000), ago(3600_000)]
    // Limit 3, 3 counted: the oldest (10 h ago) leaves in 14 h.
    expect(secondsUntilFits({ runsPerDay: 3, tokensPerDay: 0 }, events, now)).toBe(14 * 3600)
    // Limit 2, 3 counted: two must leave; the second oldest (5 h ago) leaves in 19 h.
    expect(secondsUntilFits({ runsPerDay: 2, tokensPerDay: 0 }, events, now)).toBe(19 * 3600)
  })

  test('tokens: drops the oldest runs until the rest is under the limit', () => {
    const events = [ago(20 * 3600_000, 40), ago(10 * 3600_000, 30), ago(3600_000, 50)]
    // 120 used, limit 100: dropping the first (40) leaves 80 < 100 → 4 h.
    expect(secondsUntilFits({ runsPerDay: 0, tokensPerDay: 100 }, events, now)).toBe(4 * 3600)
    // Limit 60: 80 is still too much; dropping the second too leaves 50 → 14 h.
    expect(secondsUntilFits({ runsPerDay: 0, tokensPerDay: 60 }, events, now)).toBe(14 * 3600)
    // Limit 50: 50 is not under 50; all three must go → 23 h.
    expect(secondsUntilFits({ runsPerDay: 0, tokensPerDay: 50 }, events, now)).toBe(23 * 3600)
  })

  test('both limits: the later of the two waits', () => {
    const events = [ago(20 * 3600_000, 10), ago(2 * 3600_000, 500)]
    expect(secondsUntilFits({ runsPerDay: 2, tokensPerDay: 100 }, events, now)).toBe(22 * 3600)
  })

  test('rounds up to whole seconds', () => {
    expect(secondsUntilFits({ runsPerDay: 1, tokensPerDay: 0 }, [ago(DAY - 1500)], now)).toBe(2)
  })
})

describe('quotaStatus', () => {
  test('totals and resetsAt from the oldest counted run; null when nothing counts or nothing limits', () => {
    const events = [ago(3 * 3600_000, 7), ago(3600_000, 5)]
    expect(quotaStatus({ runsPerDay: 5, tokensPerDay: 0 }, events)).toEqual({
      runsPerDay: 5,
      tokensPerDay: 0,
      runsUsed: 2,
      tokensUsed: 12,
      resetsAt: new Date(now - 3 * 3600_000 + DAY).toISOString(),
    })
    expect(quotaStatus({ runsPerDay: 5, tokensPerDay: 0 }, []).resetsAt).toBeNull()
    expect(quotaStatus({ runsPerDay: 0, tokensPerDay: 0 }, events).resetsAt).toBeNull()
  })
})

test('over HTTP a quota refusal is 429 quota_exceeded with Retry-After in whole seconds', async () => {
  const app = new Elysia().use(errorHandler).get('/run', () => {
    throw new QuotaExceededError(3600.2, 'you have used your quota')
  })
  const res = await app.handle(new Request('http://localhost/run'))
  expect(res.status).toBe(429)
  expect(res.headers.get('retry-after')).toBe('3601')
  expect(await res.json()).toEqual({ error: { code: 'quota_exceeded', message: 'you have used your quota' } })
})
