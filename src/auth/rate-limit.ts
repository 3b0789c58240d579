/** Answer of a limiter: allowed, or how many seconds until the next attempt may pass. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number }

export interface RateLimiter {
  hit(key: string): Promise<RateDecision>
  reset(key: string): Promise<void>
}

/**
 * Fixed-window counter per key in this process. Cluster mode swaps in a Redis-backed one
 * behind the same interface so the limit holds across processes.
 */
export function memoryRateLimiter(max: number, windowSeconds: number): RateLimiter {
  const windows = new Map<string, { count: number; resetAt: number }>()
  const sweep = setInterval(() => {
    const now = Date.now()
    for (const [key, w] of windows) if (w.resetAt <= now) windows.delete(key)
  }, 60_000)
  sweep.unref?.()

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
