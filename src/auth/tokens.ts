import { SignJWT, jwtVerify, errors as joseErrors } from 'jose'
import type { Role } from '../context/user-context'

export interface AccessClaims {
  userId: string
  role: Role
  expiresAt: number // unix seconds
  jti: string
  /** The sign-in (refresh-token family) this token belongs to; absent on tokens minted without one. */
  familyId?: string
  /** When it was issued, in ms (the `iat_ms` claim, else `iat`): compared with a user's "valid after". */
  issuedAtMs: number
}

export class TokenError extends Error {
  constructor(
    readonly code: 'token_expired' | 'invalid_token',
    message: string,
  ) {
    super(message)
  }
}

/**
 * Access tokens: HS256 JWTs with iss, aud, sub, exp, jti. Verification pins the algorithm,
 * issuer and audience, so `alg: none`, another key or another service's token never pass.
 */
export function accessTokens(opts: { secret: string; issuer: string; audience: string; ttlSeconds: number }) {
  const key = new TextEncoder().encode(opts.secret)

  return {
    ttlSeconds: opts.ttlSeconds,

    /** `familyId` ties the token to its sign-in, so ending that sign-in voids it at once (src/auth/sessions). */
    async sign(user: { id: string; role: Role }, familyId?: string): Promise<{ token: string; expiresAt: number }> {
      const nowMs = Date.now()
      const now = Math.floor(nowMs / 1000)
      const expiresAt = now + opts.ttlSeconds
      // `iat` has whole seconds only; `iat_ms` lets "sign out everywhere" spare a session begun in the same second.
      const token = await new SignJWT({ role: user.role, iat_ms: nowMs, ...(familyId && { sid: familyId }) })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(opts.issuer)
        .setAudience(opts.audience)
        .setSubject(user.id)
        .setIssuedAt(now)
        .setExpirationTime(expiresAt)
        .setJti(crypto.randomUUID())
        .sign(key)
      return { token, expiresAt }
    },

    async verify(token: string): Promise<AccessClaims> {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ['HS256'],
          issuer: opts.issuer,
          audience: opts.audience,
          requiredClaims: ['sub', 'exp', 'jti'],
        })
        const role = payload.role === 'admin' ? 'admin' : 'member'
        const issuedAtMs = typeof payload.iat_ms === 'number' ? payload.iat_ms : (payload.iat ?? 0) * 1000
        const familyId = typeof payload.sid === 'string' ? payload.sid : undefined
        return { userId: payload.sub!, role, expiresAt: payload.exp!, jti: payload.jti!, familyId, issuedAtMs }
      } catch (error) {
        if (error instanceof joseErrors.JWTExpired)
          throw new TokenError('token_expired', 'the access token has expired')
        throw new TokenError('invalid_token', 'the access token is not valid')
      }
    },
  }
}

export type AccessTokens = ReturnType<typeof accessTokens>
