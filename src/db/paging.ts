import {
  DEFAULT_PAGE_SIZE,
  decodeCursor as decodeKey,
  encodeCursor,
  InvalidCursorError,
  MAX_PAGE_SIZE,
  pageLimit,
} from '../http/keyset-page'

/**
 * Keyset paging for every list (PROTOCOL.md §5): a page is "the next `limit` rows after this
 * key", so its cost does not grow with the rows behind it and rows added meanwhile neither
 * shift nor repeat what a client already has. The cursor is the last row's sort key, opaque
 * to clients (base64url JSON).
 */
export interface PageRequest {
  limit: number
  /** The sort key of the last row of the previous page, as the list encoded it. */
  after?: unknown[]
}

export interface Page<T> {
  items: T[]
  nextCursor: string | null
}

export { DEFAULT_PAGE_SIZE, InvalidCursorError, MAX_PAGE_SIZE, encodeCursor }

/** The key of `arity` plain values inside a cursor, or InvalidCursorError. */
export function decodeCursor(cursor: string, arity: number): unknown[] {
  const key = decodeKey(
    cursor,
    (key): key is unknown[] =>
      Array.isArray(key) &&
      key.length === arity &&
      key.every((v) => v === null || ['string', 'number', 'boolean'].includes(typeof v)),
  )
  if (!key) throw new InvalidCursorError()
  return key
}

/** Parses `?limit=&cursor=` (strings from the query) into a request for a key of `arity` values. */
export function pageRequest(query: { limit?: string; cursor?: string }, arity: number): PageRequest {
  const limit = pageLimit(query.limit)
  const after = query.cursor === undefined || query.cursor === '' ? undefined : decodeCursor(query.cursor, arity)
  return { limit, after }
}

/** Builds the page from `limit + 1` fetched rows: the extra row only says that more follow. */
export function toPage<Row, T>(
  rows: Row[],
  limit: number,
  keyOf: (row: Row) => unknown[],
  view: (row: Row) => T,
): Page<T> {
  const more = rows.length > limit
  const kept = more ? rows.slice(0, limit) : rows
  return { items: kept.map(view), nextCursor: more ? encodeCursor(keyOf(kept[kept.length - 1])) : null }
}
