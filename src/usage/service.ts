import { DAY_MS, utcDay, type UsageRepository, type UsageRow } from '../db/repositories/usage'
import { InvalidInputError } from '../http/errors'
import { currentUser } from '../context/user-context'
import { decodeCursor, page } from '../http/keyset-page'
import type { DatabaseQuota } from './quota'

const isDay = (s: string) =>
  /^\d{4}-\d{2}-\d{2}$/.test(s) &&
  !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) &&
  utcDay(Date.parse(`${s}T00:00:00Z`)) === s

/** `from`/`to` as UTC days, both inclusive; default the last 30 days (PROTOCOL.md §5). */
export function dayRange(
  from: string | undefined,
  to: string | undefined,
  now = Date.now(),
): { from: string; to: string } {
  const range = { from: from ?? utcDay(now - 29 * DAY_MS), to: to ?? utcDay(now) }
  for (const [name, value] of Object.entries(range))
    if (!isDay(value)) throw new InvalidInputError(`${name} must be a date YYYY-MM-DD`)
  if (range.from > range.to) throw new InvalidInputError('from must not be after to')
  return range
}

const ownView = (r: UsageRow) => ({
  day: r.day,
  model: r.model,
  runs: r.runs,
  promptTokens: r.promptTokens,
  completionTokens: r.completionTokens,
})
const adminView = (r: UsageRow) => ({ userId: r.userId, ...ownView(r) })
const isKey = (k: unknown): k is [string, string, string] =>
  Array.isArray(k) && k.length === 3 && k.every((v) => typeof v === 'string')

/** Usage per user, day and model, and the quota window; knows nothing of HTTP. */
export function usageService(deps: { usage: UsageRepository; quota: DatabaseQuota }) {
  return {
    /** The active user's own usage and quota. */
    async mine(query: { from?: string; to?: string }) {
      const range = dayRange(query.from, query.to)
      const [rows, quota] = await Promise.all([
        deps.usage.mine(range.from, range.to),
        deps.quota.status(currentUser().userId),
      ])
      return { usage: rows.map(ownView), quota }
    },

    /** Everyone's usage (admins): counts only, never content. */
    async all(query: { from?: string; to?: string; userId?: string; limit: number; cursor?: string }) {
      const range = dayRange(query.from, query.to)
      const after = decodeCursor(query.cursor, isKey)
      const rows = await deps.usage.all({ ...range, userId: query.userId, limit: query.limit + 1, after })
      const { items, nextCursor } = page(rows, query.limit, adminView, (r) => [r.day, r.userId, r.model])
      return { usage: items, nextCursor }
    },
  }
}

export type UsageService = ReturnType<typeof usageService>
