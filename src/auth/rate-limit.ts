/** Answer of a limiter: allowed, or how many seconds until the next attempt may pass. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number }

export interface RateLimiter {
  hit(key: string): Promise<RateDecision>
  reset(key: string): Promise<void>
}

/**
 * Entries by key, dropped once `expiresAt(entry)` has passed: swept every minute, so a flood of
 * one-off keys cannot grow the process (readers check the time themselves too).
 */
function sweptMap<V>(expiresAt: (value: V) => number): Map<string, V> {
  const map = new Map<string, V>()
  const sweep = setInterval(() => {
    const now = Date.now()
    for (const [key, value] of map) if (expiresAt(value) <= now) map.delete(key)
  }, 60_000)
  sweep.unref?.()
  return map
}

/**
 * Fixed-window counter per key in this process. Cluster mode swaps in a Redis-backed one
 * behind the same interface so the limit holds across processes.
 */
export function memoryRateLimiter(max: number, windowSeconds: number): RateLimiter {
  const windows = sweptMap<{ count: number; resetAt: number }>((w) => w.resetAt)

  return {
    async hit(key) {
      const now = Date.now()
      let w = windows.get(key)
      if (!w || w.resetAt <= now) {
        w = { count: 0, resetAt: now + windowSeconds * 1000 }
        windows.set(key, w)
      }
      w.count++
      if (w.count > max) return { allowed: false, retryAfterSeconds: (w.resetAt - now) / 1000 }
      return { allowed: true }
    },
    async reset(key) {
      windows.delete(key)
    },
  }
}

/**
 * Failed attempts per key with growing back-off: `free` failures pass, then each further one
 * makes the key wait 30 s, 60 s, 120 s … (at most `windowSeconds`) before its next attempt. A key
 * with no failure for `windowSeconds` is forgotten. Only failures count, so people who get their
 * password right are never slowed down: an attempt is counted as a failure when it starts (so a
 * burst of parallel guesses can't all slip past the check) and taken back when it succeeds.
 */
export interface FailureLimiter {
  /** Refuses while the key waits out its back-off; otherwise counts the attempt as a failure. */
  attempt(key: string): Promise<RateDecision>
  /** The attempt succeeded: it no longer counts. */
  forgive(key: string): Promise<void>
  /** Forgets the key's failures altogether (a successful login to this account from this address). */
  reset(key: string): Promise<void>
}

/** The first wait once the free failures are used up; each further failure doubles it. */
export const BACKOFF_START_MS = 30_000

/** The wait after the `failures`-th failure (ms): 0 while free, then doubling from 30 s, capped. */
export function backoffMs(failures: number, free: number, capSeconds: number): number {
  if (failures < free) return 0
  return Math.min(capSeconds * 1000, BACKOFF_START_MS * 2 ** Math.min(20, failures - free))
}

export function memoryFailureLimiter(free: number, windowSeconds: number): FailureLimiter {
  const keys = sweptMap<{ failures: number; lockedUntil: number; forgetAt: number }>((k) => k.forgetAt)

  return {
    async attempt(key) {
      const now = Date.now()
      let k = keys.get(key)
      if (!k || k.forgetAt <= now) keys.set(key, (k = { failures: 0, lockedUntil: 0, forgetAt: 0 }))
      if (k.lockedUntil > now) return { allowed: false, retryAfterSeconds: (k.lockedUntil - now) / 1000 }
      k.failures++
      const wait = backoffMs(k.failures, free, windowSeconds)
      k.lockedUntil = now + wait
      k.forgetAt = now + wait + windowSeconds * 1000
      return { allowed: true }
    },
    async forgive(key) {
      const k = keys.get(key)
      if (!k) return
      k.failures = Math.max(0, k.failures - 1)
      if (k.failures < free) k.lockedUntil = 0
    },
    async reset(key) {
      keys.delete(key)
    },
  }
}
