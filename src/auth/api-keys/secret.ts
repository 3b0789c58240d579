/** The shape of an API key secret: `lcs_` and 32 random bytes (base64url). */
export const KEY_PREFIX = 'lcs_'
const SHOWN_CHARS = KEY_PREFIX.length + 8

export function newSecret(): string {
  return KEY_PREFIX + Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')
}

/**
 * SHA-256, not a password hash: the secret has 256 random bits, so a fast hash is as strong as
 * a slow one here and keeps every /v1 request cheap (a password hash would cost ~50 ms each).
 */
export function hashSecret(secret: string): string {
  return new Bun.CryptoHasher('sha256').update(secret).digest('hex')
}

/** The visible start of a secret, stored to tell keys apart in lists. */
export function shownPrefix(secret: string): string {
  return secret.slice(0, SHOWN_CHARS)
}

export function looksLikeKey(token: string): boolean {
  return token.startsWith(KEY_PREFIX)
}
