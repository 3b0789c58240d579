import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import { InvalidCursorError } from './paging'

/**
 * Cursors whose content the caller must not read. A search cursor holds a bm25 score, and bm25
 * weighs a word by how many messages of *every* user contain it: a plain cursor would tell one
 * user whether others wrote a word, and roughly how often. Sealed, the cursor is an opaque
 * AES-256-GCM box; one that was not sealed here (or was altered) is 400 `invalid_cursor`.
 *
 * The key is derived from the server's signing secret, so every process of a cluster, and the
 * same server after a restart, reads the cursors the others gave out.
 */
export interface CursorSeal {
  seal(cursor: string): string
  /** The cursor inside, or InvalidCursorError. */
  open(sealed: string): string
}

const IV_BYTES = 12
const TAG_BYTES = 16

export function cursorSeal(secret: string, purpose: string): CursorSeal {
  const key = Buffer.from(hkdfSync('sha256', secret, '', `local-chat-server cursor: ${purpose}`, 32))
  return {
    seal(cursor) {
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      const body = Buffer.concat([cipher.update(cursor, 'utf8'), cipher.final()])
      return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')
    },
    open(sealed) {
      const box = Buffer.from(sealed, 'base64url')
      if (box.length <= IV_BYTES + TAG_BYTES) throw new InvalidCursorError()
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, box.subarray(0, IV_BYTES))
        decipher.setAuthTag(box.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
        return Buffer.concat([decipher.update(box.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8')
      } catch {
        throw new InvalidCursorError()
      }
    },
  }
}
