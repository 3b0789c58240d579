import { DAY_MS, type WindowEvent } from '../db/repositories/usage'

export interface QuotaLimits {
  /** 0 = no limit. */
  runsPerDay: number
  tokensPerDay: number
}

export interface QuotaStatus extends QuotaLimits {
  runsUsed: number
  tokensUsed: number
  /** ISO time the oldest counted run leaves the window; null when nothing counts or no limit applies. */
  resetsAt: string | null
}

/** The window's totals and when it resets (PROTOCOL.md §5, `GET /api/usage`). */
export function quotaStatus(limits: QuotaLimits, events: WindowEvent[]): QuotaStatus {
  const tokensUsed = events.reduce((sum, e) => sum + e.tokens, 0)
  const limited = limits.runsPerDay > 0 || limits.tokensPerDay > 0
  return {
    ...limits,
    runsUsed: events.length,
    tokensUsed,
    resetsAt: limited && events.length > 0 ? new Date(events[0].at + DAY_MS).toISOString() : null,
  }
}

/**
 * Seconds until one more run fits: the moment enough of the oldest runs (oldest first) have left
 * the rolling window that both the run count and the token total are under their limits.
 * 0 when a run fits now.
 */
export function secondsUntilFits(limits: QuotaLimits, events: WindowEvent[], now: number): number {
  let waitUntil = now
  if (limits.runsPerDay > 0 && events.length >= limits.runsPerDay) {
    waitUntil = Math.max(waitUntil, events[events.length - limits.runsPerDay].at + DAY_MS)
  }
  if (limits.tokensPerDay > 0) {
    let used = events.reduce((sum, e) => sum + e.tokens, 0)
    for (const event of events) {
      if (used < limits.tokensPerDay) break
      used -= event.tokens
      waitUntil = Math.max(waitUntil, event.at + DAY_MS)
    }
  }
  return waitUntil <= now ? 0 : Math.ceil((waitUntil - now) / 1000)
}
