import { t } from 'elysia'
import { InvalidInputError } from '../http/errors'

/**
 * Keyset paging of lists (PROTOCOL.md §5): `limit` 1–200 (default 50) and an opaque
 * `cursor` from the previous answer. Cursors wrap a key (keyset paging), so a page costs the
 * same however many rows lie behind it.
 */
export const pageQuery = {
  limit: t.Optional(t.String({ pattern: '^[0-9]+$', error: 'limit must be a whole number from 1 to 200' })),
  cursor: t.Optional(t.String({ maxLength: 512 })),
}

export function pageLimit(raw: string | undefined): number {
  if (raw === undefined) return 50
  const limit = Number(raw)
  if (!Number.isInteger(limit) || limit < 1 || limit > 200)
    throw new InvalidInputError('limit must be a whole number from 1 to 200')
  return limit
}

export function encodeCursor(key: unknown): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url')
}

export function decodeCursor<T>(raw: string | undefined, valid: (key: unknown) => key is T): T | undefined {
  if (raw === undefined || raw === '') return undefined
  try {
    const key = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'))
    if (valid(key)) return key
  } catch {}
  throw new InvalidInputError('cursor is not valid; use the nextCursor of the previous page')
}

/** Fetches one row more than asked to know whether another page follows. */
export function page<R, V>(
  rows: R[],
  limit: number,
  view: (row: R) => V,
  keyOf: (row: R) => unknown,
): { items: V[]; nextCursor: string | null } {
  const more = rows.length > limit
  const kept = more ? rows.slice(0, limit) : rows
  return { items: kept.map(view), nextCursor: more ? encodeCursor(keyOf(kept[kept.length - 1])) : null }
}

export const isString = (key: unknown): key is string => typeof key === 'string' && key.length > 0 && key.length < 200
