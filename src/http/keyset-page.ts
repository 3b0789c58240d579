import { t } from 'elysia'
import { AppError, InvalidInputError } from './errors'

/**
 * Keyset paging of lists (PROTOCOL.md §5): `limit` 1–200 (default 50) and an opaque
 * `cursor` from the previous answer. Cursors wrap a key (keyset paging), so a page costs the
 * same however many rows lie behind it.
 */
export const pageQuery = {
  limit: t.Optional(t.String({ pattern: '^[0-9]+$', error: 'limit must be a whole number from 1 to 200' })),
  cursor: t.Optional(t.String({ maxLength: 512 })),
}

export const DEFAULT_PAGE_SIZE = 50
export const MAX_PAGE_SIZE = 200

/** A list's `?limit=` (a string from the query): DEFAULT_PAGE_SIZE when absent, else 1–MAX_PAGE_SIZE. */
export function pageLimit(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_PAGE_SIZE
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_PAGE_SIZE)
    throw new InvalidInputError(`limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`)
  return Number(raw)
}

/** Every list answers a cursor it did not give out the same way: 400 `invalid_cursor`. */
export class InvalidCursorError extends AppError {
  constructor() {
    super(400, 'invalid_cursor', 'cursor is not one this list gave out; start again without it')
  }
}

/** The one cursor format of every list: the last row's key, as base64url JSON. */
export function encodeCursor(key: unknown): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url')
}

/** The key inside `raw` if `valid` accepts it (undefined for no cursor); else InvalidCursorError. */
export function decodeCursor<T>(raw: string | undefined, valid: (key: unknown) => key is T): T | undefined {
  if (raw === undefined || raw === '') return undefined
  try {
    const key = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'))
    if (valid(key)) return key
  } catch {}
  throw new InvalidCursorError()
}

const isTimeAndId = (key: unknown): key is [number, string] =>
  Array.isArray(key) &&
  key.length === 2 &&
  Number.isSafeInteger(key[0]) &&
  typeof key[1] === 'string' &&
  key[1].length > 0 &&
  key[1].length <= 64

/** The cursor of a list newest first by creation time: the last row's (createdAt, id). */
export const encodeTimeCursor = (row: { createdAt: number; id: string }) => encodeCursor([row.createdAt, row.id])

export function decodeTimeCursor(raw: string): { createdAt: number; id: string } {
  const key = decodeCursor(raw, isTimeAndId)
  if (!key) throw new InvalidCursorError()
  return { createdAt: key[0], id: key[1] }
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
