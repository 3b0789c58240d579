import { and, eq, gt, isNull, ne } from 'drizzle-orm'
import type { Database, Db } from '../db/client'
import { refreshTokenFamilies, refreshTokens } from '../db/schema'
import { newId } from '../db/scope'

const sha256 = (token: string) => new Bun.CryptoHasher('sha256').update(token).digest('hex')
const randomToken = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')

export type RotateResult =
  | { ok: true; userId: string; familyId: string; token: string }
  | { ok: false; reason: 'reused'; userId: string; familyId: string }
  | { ok: false; reason: 'invalid' | 'expired' | 'revoked' }

/**
 * Refresh tokens live in families (one per sign-in). Only their SHA-256 is stored. Rotation
 * spends a token with one conditional UPDATE, so two racing refreshes can't both win; a spent
 * token presented again revokes its whole family (RFC 9700 §4.14.2).
 */
/** Revokes the live refresh families of a user, but `keepFamilyId`'s; answers the revoked ids. */
function revokeFamilies(db: Db, userId: string, reason: string, keepFamilyId?: string) {
  return db
    .update(refreshTokenFamilies)
    .set({ revokedAt: Date.now(), revokedReason: reason })
    .where(
      and(
        eq(refreshTokenFamilies.userId, userId),
        isNull(refreshTokenFamilies.revokedAt),
        keepFamilyId ? ne(refreshTokenFamilies.id, keepFamilyId) : undefined,
      ),
    )
    .returning({ id: refreshTokenFamilies.id })
}

export function refreshTokenStore({ db, write }: Database, ttlSeconds: number) {
  async function issue(userId: string, familyId: string, db: Database['db']) {
    const token = randomToken()
    await db.insert(refreshTokens).values({
      tokenHash: sha256(token),
      familyId,
      userId,
      expiresAt: Date.now() + ttlSeconds * 1000,
      createdAt: Date.now(),
    })
    return token
  }

  async function revokeFamily(familyId: string, reason: string) {
    await write((db) =>
      db
        .update(refreshTokenFamilies)
        .set({ revokedAt: Date.now(), revokedReason: reason })
        .where(and(eq(refreshTokenFamilies.id, familyId), isNull(refreshTokenFamilies.revokedAt))),
    )
  }

  return {
    /** A new family with its first token (sign-in). */
    async startFamily(userId: string): Promise<{ familyId: string; token: string }> {
      return write(async (db) => {
        const familyId = newId()
        await db.insert(refreshTokenFamilies).values({ id: familyId, userId, createdAt: Date.now() })
        return { familyId, token: await issue(userId, familyId, db) }
      })
    },

    async rotate(token: string): Promise<RotateResult> {
      const hash = sha256(token)
      return write(async (db) => {
        const [spent] = await db
          .update(refreshTokens)
          .set({ usedAt: Date.now() })
          .where(and(eq(refreshTokens.tokenHash, hash), isNull(refreshTokens.usedAt)))
          .returning()
        const row = spent ?? (await db.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, hash)))[0]
        if (!row) return { ok: false as const, reason: 'invalid' as const }
        const [family] = await db.select().from(refreshTokenFamilies).where(eq(refreshTokenFamilies.id, row.familyId))
        if (!family || family.revokedAt) return { ok: false as const, reason: 'revoked' as const }
        if (!spent) {
          await db
            .update(refreshTokenFamilies)
            .set({ revokedAt: Date.now(), revokedReason: 'reuse' })
            .where(eq(refreshTokenFamilies.id, row.familyId))
          return { ok: false as const, reason: 'reused' as const, userId: row.userId, familyId: row.familyId }
        }
        if (row.expiresAt <= Date.now()) return { ok: false as const, reason: 'expired' as const }
        return {
          ok: true as const,
          userId: row.userId,
          familyId: row.familyId,
          token: await issue(row.userId, row.familyId, db),
        }
      })
    },

    /**
     * Ends every sign-in of a user (admin sign-out, disable, password change), except the
     * family of `keepToken` when given (the session that changed the password).
     */
    async revokeAllForUser(userId: string, reason: string, keepToken?: string): Promise<number> {
      const keep = keepToken
        ? (
            await db
              .select()
              .from(refreshTokens)
              .where(eq(refreshTokens.tokenHash, sha256(keepToken)))
          )[0]
        : undefined
      const keepFamily = keep && keep.userId === userId ? keep.familyId : undefined
      return (await write((db) => revokeFamilies(db, userId, reason, keepFamily))).length
    },

    /** The user a refresh token belongs to (for logout's audit event), without spending it. */
    /** The family of a token of `userId` (spent or not), to keep that sign-in. */
    async familyOf(token: string, userId: string): Promise<string | undefined> {
      const [row] = await db
        .select({ familyId: refreshTokens.familyId })
        .from(refreshTokens)
        .where(and(eq(refreshTokens.tokenHash, sha256(token)), eq(refreshTokens.userId, userId)))
      return row?.familyId
    },

    async ownerOf(token: string): Promise<string | undefined> {
      const [row] = await db
        .select({ userId: refreshTokens.userId })
        .from(refreshTokens)
        .where(eq(refreshTokens.tokenHash, sha256(token)))
      return row?.userId
    },

    /** Logout: revokes the family of this token, whether or not it was spent. */
    async revokeByToken(token: string): Promise<{ userId: string; familyId: string } | undefined> {
      const [row] = await db
        .select()
        .from(refreshTokens)
        .where(eq(refreshTokens.tokenHash, sha256(token)))
      if (!row) return undefined
      await revokeFamily(row.familyId, 'logout')
      return { userId: row.userId, familyId: row.familyId }
    },

    revokeFamily,

    /** Every live family of a user (sign out everywhere, disable). */
    async revokeAllOf(userId: string, reason: string): Promise<void> {
      await write((db) =>
        db
          .update(refreshTokenFamilies)
          .set({ revokedAt: Date.now(), revokedReason: reason })
          .where(and(eq(refreshTokenFamilies.userId, userId), isNull(refreshTokenFamilies.revokedAt))),
      )
    },

    /** Revokes every live family of a user but one; answers the ids it revoked. */
    async revokeOthersOf(userId: string, keepFamilyId: string, reason: string): Promise<string[]> {
      return (await write((db) => revokeFamilies(db, userId, reason, keepFamilyId))).map((r) => r.id)
    },

    /** Families revoked since `sinceMs`: their access tokens may still be unexpired. */
    async revokedSince(sinceMs: number): Promise<{ id: string; userId: string; revokedAt: number }[]> {
      const rows = await db.select().from(refreshTokenFamilies).where(gt(refreshTokenFamilies.revokedAt, sinceMs))
      return rows.map((r) => ({ id: r.id, userId: r.userId, revokedAt: r.revokedAt! }))
    },
  }
}

export type RefreshTokenStore = ReturnType<typeof refreshTokenStore>
