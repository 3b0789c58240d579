import { and, desc, eq, isNull, lt, or } from 'drizzle-orm'
import type { Database } from '../client'
import { apiKeys, users } from '../schema'
import { iso, newId, ownerId } from '../scope'
import { NotFoundError } from '../../http/errors'
import type { Role } from '../../context/user-context'

import type { ApiKeyView } from '../../protocol'

export type { ApiKeyView }

type ApiKeyRow = typeof apiKeys.$inferSelect

const view = (row: ApiKeyRow): ApiKeyView => ({
  id: row.id,
  name: row.name,
  prefix: row.prefix,
  createdAt: iso(row.createdAt),
  expiresAt: row.expiresAt === null ? null : iso(row.expiresAt),
  lastUsedAt: row.lastUsedAt === null ? null : iso(row.lastUsedAt),
})

/** A key found by its secret, before anyone is signed in. */
export interface KeyOwner {
  keyId: string
  userId: string
  role: Role
  /** The owner's account is disabled: its keys stop working with it. */
  disabled: boolean
  expiresAt: number | null
  revokedAt: number | null
  lastUsedAt: number | null
}

/** Position in the newest-first list: (createdAt, id) of the last key of a page. */
export interface KeyCursor {
  createdAt: number
  id: string
}

/**
 * API keys. Everything a user manages is scoped to the active user; `findBySecretHash` is the
 * one unscoped read, because it is how a request becomes a user in the first place (like the
 * users repository at login).
 */
export function apiKeysRepository({ db, write }: Database) {
  const mine = (id: string) => and(eq(apiKeys.id, id), eq(apiKeys.userId, ownerId()), isNull(apiKeys.revokedAt))

  return {
    async create(input: {
      name: string
      prefix: string
      secretHash: string
      expiresAt: number | null
    }): Promise<ApiKeyView> {
      const row = { id: newId(), userId: ownerId(), createdAt: Date.now(), ...input }
      const [saved] = await write((db) => db.insert(apiKeys).values(row).returning())
      return view(saved)
    },

    /** The active user's live (not revoked) keys, newest first, keyset-paged. */
    async list(limit: number, after?: KeyCursor): Promise<{ keys: ApiKeyView[]; next?: KeyCursor }> {
      const page = after
        ? or(
            lt(apiKeys.createdAt, after.createdAt),
            and(eq(apiKeys.createdAt, after.createdAt), lt(apiKeys.id, after.id)),
          )
        : undefined
      const rows = await db
        .select()
        .from(apiKeys)
        .where(and(eq(apiKeys.userId, ownerId()), isNull(apiKeys.revokedAt), page))
        .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id))
        .limit(limit + 1)
      const more = rows.length > limit
      const shown = rows.slice(0, limit)
      const last = shown.at(-1)
      return { keys: shown.map(view), next: more && last ? { createdAt: last.createdAt, id: last.id } : undefined }
    },

    /** Revokes one of the active user's keys; another user's or an unknown one is not found. */
    async revoke(id: string): Promise<void> {
      const where = mine(id)
      const revoked = await write((db) =>
        db.update(apiKeys).set({ revokedAt: Date.now() }).where(where).returning({ id: apiKeys.id }),
      )
      if (revoked.length === 0) throw new NotFoundError('API key')
    },

    /** Unscoped on purpose: the lookup that authenticates a key (see above). */
    async findBySecretHash(secretHash: string): Promise<KeyOwner | undefined> {
      const [row] = await db
        .select({
          keyId: apiKeys.id,
          userId: apiKeys.userId,
          role: users.role,
          disabled: users.disabled,
          expiresAt: apiKeys.expiresAt,
          revokedAt: apiKeys.revokedAt,
          lastUsedAt: apiKeys.lastUsedAt,
        })
        .from(apiKeys)
        .innerJoin(users, eq(users.id, apiKeys.userId))
        .where(eq(apiKeys.secretHash, secretHash))
      return row
    },

    /** Records a use; called for a key that was just authenticated (so it is its owner's). */
    async touch(keyId: string, at: number): Promise<void> {
      await write((db) => db.update(apiKeys).set({ lastUsedAt: at }).where(eq(apiKeys.id, keyId)))
    },
  }
}

export type ApiKeysRepository = ReturnType<typeof apiKeysRepository>
