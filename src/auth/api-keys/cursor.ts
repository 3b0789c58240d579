import { InvalidInputError } from '../../http/errors'
import type { KeyCursor } from '../../db/repositories/api-keys'

/** Opaque page cursors (PROTOCOL.md §5): the position of the last key shown, base64url JSON. */
export function encodeCursor(cursor: KeyCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id])).toString('base64url')
}

export function decodeCursor(text: string): KeyCursor {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
    if (Number.isSafeInteger(createdAt) && typeof id === 'string' && id.length <= 64) return { createdAt, id }
  } catch {}
  throw new InvalidInputError('cursor is not valid; pass the nextCursor of the previous page')
}
