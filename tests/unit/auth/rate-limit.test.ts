import { test, expect, describe, afterEach, setSystemTime } from 'bun:test'
import { backoffMs, memoryFailureLimiter, BACKOFF_START_MS } from '../../../src/auth/rate-limit'
import { clientAddress, compileTrustedProxies, trustNobody } from '../../../src/http/client-address'
import { loadConfig, ConfigError } from '../../../src/config'

afterEach(() => setSystemTime())

describe('failure limiter with growing back-off', () => {
  test('free failures pass, then the wait doubles from 30 s up to the window', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => backoffMs(n, 3, 300) / 1000)).toEqual([0, 0, 30, 60, 120, 240, 300, 300])
  })

  test('each failure after the free ones makes the next attempt wait longer; a success takes its count back', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z')
    setSystemTime(new Date(now))
    const limiter = memoryFailureLimiter(2, 600)
    expect(await limiter.attempt('k')).toEqual({ allowed: true })
    expect(await limiter.attempt('k')).toEqual({ allowed: true }) // the 2nd failure starts the back-off
    expect(await limiter.attempt('k')).toEqual({ allowed: false, retryAfterSeconds: 30 })
    setSystemTime(new Date((now += BACKOFF_START_MS)))
    expect(await limiter.attempt('k')).toEqual({ allowed: true }) // the 3rd: 60 s now
    expect(await limiter.attempt('k')).toEqual({ allowed: false, retryAfterSeconds: 60 })
    // Other keys are independent.
    expect(await limiter.attempt('other')).toEqual({ allowed: true })
    await limiter.reset('k')
    expect(await limiter.attempt('k')).toEqual({ allowed: true })
    await limiter.forgive('k') // that attempt succeeded: back to no failures
    expect(await limiter.attempt('k')).toEqual({ allowed: true })
    expect(await limiter.attempt('k')).toEqual({ allowed: true })
    // Forgotten a window after the last failure.
    expect(await limiter.attempt('k')).toEqual({ allowed: false, retryAfterSeconds: 30 })
    setSystemTime(new Date((now += 30_000 + 600_000)))
    expect(await limiter.attempt('k')).toEqual({ allowed: true })
    expect(await limiter.attempt('k')).toEqual({ allowed: true })
  })
})

describe('client address and TRUSTED_PROXIES', () => {
  const req = (xff?: string) => new Request('http://server/', { headers: xff ? { 'x-forwarded-for': xff } : {} })
  const trust = compileTrustedProxies(['127.0.0.1', '10.0.0.0/8', 'fd00::/8'])

  test('the peer, when it is not a trusted proxy (its X-Forwarded-For is ignored)', () => {
    expect(clientAddress(req('1.2.3.4'), '198.51.100.1', trust)).toBe('198.51.100.1')
    expect(clientAddress(req('1.2.3.4'), '127.0.0.1', trustNobody)).toBe('127.0.0.1')
  })

  test('the last untrusted hop of X-Forwarded-For when the peer is trusted', () => {
    expect(clientAddress(req('1.2.3.4'), '127.0.0.1', trust)).toBe('1.2.3.4')
    // A forged first entry sent by the client itself is not believed: the proxy appended the real one.
    expect(clientAddress(req('6.6.6.6, 1.2.3.4'), '127.0.0.1', trust)).toBe('1.2.3.4')
    // Chains of trusted proxies are walked through.
    expect(clientAddress(req('1.2.3.4, 10.1.2.3'), '127.0.0.1', trust)).toBe('1.2.3.4')
    expect(clientAddress(req('2001:db8::1'), 'fd00::5', trust)).toBe('2001:db8::1')
    expect(clientAddress(req(), '127.0.0.1', trust)).toBe('127.0.0.1')
  })

  test('a hop that is not an IP address is not believed: the peer stands', () => {
    for (const forwarded of ['garbage', 'x'.repeat(7000), '1.2.3.4\t5.6.7.8', '1.2.3.4, <script>'])
      expect(clientAddress(req(forwarded), '127.0.0.1', trust)).toBe('127.0.0.1')
  })

  test('TRUSTED_PROXIES is validated at start', () => {
    const base = { JWT_SECRET: 'x'.repeat(40) }
    expect(loadConfig({ ...base, TRUSTED_PROXIES: '127.0.0.1, 10.0.0.0/8, ::1, loopback' }).trustedProxies).toEqual([
      '127.0.0.1',
      '10.0.0.0/8',
      '::1',
      'loopback',
    ])
    expect(loadConfig(base).trustedProxies).toEqual([])
    expect(() => loadConfig({ ...base, TRUSTED_PROXIES: '10.0.0.0/33' })).toThrow(ConfigError)
    expect(() => loadConfig({ ...base, TRUSTED_PROXIES: 'proxy.example' })).toThrow(/TRUSTED_PROXIES/)
  })
})
