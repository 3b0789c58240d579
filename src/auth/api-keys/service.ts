import type { ApiKeysRepository, ApiKeyView } from '../../db/repositories/api-keys'
import { currentUser, type Role } from '../../context/user-context'
import { UnauthorizedError } from '../../http/errors'
import { log } from '../../log'
import type { ApiAudit } from './audit-hook'
import { decodeTimeCursor, encodeTimeCursor } from '../../http/keyset-page'
import { hashSecret, looksLikeKey, newSecret, shownPrefix } from './secret'

const DAY_MS = 24 * 60 * 60 * 1000

/** Who a valid key acts for. */
export interface KeyIdentity {
  keyId: string
  userId: string
  role: Role
}

/**
 * Personal API keys (PROTOCOL.md §7): created with the secret shown once, listed without it,
 * revoked at once. Knows nothing of HTTP. Revocation is announced to the requests still
 * streaming with that key (`onRevoked`) so they stop too.
 */
export function apiKeysService(
  repo: ApiKeysRepository,
  opts: {
    touchIntervalMs?: number
    audit?: ApiAudit
    /** Cluster mode: tells the other processes, whose requests with the key must stop too. */
    broadcastRevoked?: (keyId: string) => void
  } = {},
) {
  const auditHook: ApiAudit = opts.audit ?? (() => {})
  const revokedListeners = new Map<string, Set<() => void>>()
  const stopRequestsOf = (keyId: string) => {
    for (const listener of revokedListeners.get(keyId) ?? []) listener()
    revokedListeners.delete(keyId)
  }
  // `last used` is written at most once a minute per key: a busy script must not cost a write per call.
  const touchIntervalMs = opts.touchIntervalMs ?? 60_000

  return {
    async create(input: { name: string; expiresInDays?: number }): Promise<{ key: ApiKeyView; secret: string }> {
      const secret = newSecret()
      const expiresAt = input.expiresInDays ? Date.now() + input.expiresInDays * DAY_MS : null
      const key = await repo.create({
        name: input.name.trim(),
        prefix: shownPrefix(secret),
        secretHash: hashSecret(secret),
        expiresAt,
      })
      auditHook({ action: 'api_key_created', actorId: currentUser().userId, targetId: key.id })
      return { key, secret }
    },

    async list(query: { limit?: number; cursor?: string }): Promise<{ keys: ApiKeyView[]; nextCursor: string | null }> {
      const page = await repo.list(query.limit ?? 50, query.cursor ? decodeTimeCursor(query.cursor) : undefined)
      return { keys: page.keys, nextCursor: page.next ? encodeTimeCursor(page.next) : null }
    },

    async revoke(id: string): Promise<void> {
      await repo.revoke(id)
      auditHook({ action: 'api_key_revoked', actorId: currentUser().userId, targetId: id })
      stopRequestsOf(id)
      opts.broadcastRevoked?.(id)
    },

    /** Another process revoked the key: the requests streaming with it here stop. */
    revokedElsewhere(keyId: string) {
      stopRequestsOf(keyId)
    },

    /** The key's user, or 401: unknown, revoked, expired, or not a key at all (a JWT). */
    async authenticate(token: string | undefined): Promise<KeyIdentity> {
      if (!token) throw new UnauthorizedError('missing_api_key', 'an API key is required: Authorization: Bearer lcs_…')
      if (!looksLikeKey(token))
        throw new UnauthorizedError(
          'invalid_api_key',
          'this endpoint takes API keys (lcs_…), not access tokens; create one under Settings → API keys',
        )
      const found = await repo.findBySecretHash(hashSecret(token))
      if (!found) throw new UnauthorizedError('invalid_api_key', 'the API key is not valid')
      const now = Date.now()
      if (found.revokedAt !== null) throw new UnauthorizedError('api_key_revoked', 'this API key was revoked')
      if (found.disabled) throw new UnauthorizedError('account_disabled', 'this account is disabled')
      if (found.expiresAt !== null && found.expiresAt <= now)
        throw new UnauthorizedError('api_key_expired', 'this API key has expired; create a new one')
      if (found.lastUsedAt === null || now - found.lastUsedAt >= touchIntervalMs) {
        void repo
          .touch(found.keyId, now)
          .catch((error) => log.warn('could not record API key use', { error: String(error) }))
      }
      return { keyId: found.keyId, userId: found.userId, role: found.role }
    },

    /** Calls `listener` once when the key is revoked (here, or on another process of a cluster); returns the unsubscribe. */
    onRevoked(keyId: string, listener: () => void): () => void {
      const set = revokedListeners.get(keyId) ?? new Set()
      set.add(listener)
      revokedListeners.set(keyId, set)
      return () => {
        set.delete(listener)
        if (set.size === 0 && revokedListeners.get(keyId) === set) revokedListeners.delete(keyId)
      }
    },
  }
}

export type ApiKeysService = ReturnType<typeof apiKeysService>
