import type { UsersRepository, UserView } from '../db/repositories/users'
import { userView } from '../db/repositories/users'
import type { AccessTokens } from './tokens'
import type { RefreshTokenStore } from './refresh-tokens'
import type { RateLimiter } from './rate-limit'
import { AppError, ConflictError, ForbiddenError, RateLimitedError, UnauthorizedError } from '../http/errors'
import type { Role } from '../context/user-context'
import type { AuditLog } from '../audit'

export interface Session {
  user: UserView
  accessToken: string
  refreshToken: string
  expiresIn: number
}

/**
 * The one path every new password takes (registration, admin-created accounts, the CLI, reset,
 * change): the strength policy belongs here, so all of them pick it up.
 */
export async function hashNewPassword(password: string): Promise<string> {
  if (password.length < 8 || password.length > 256) throw new AppError(400, 'weak_password', 'the password must be 8 to 256 characters')
  return Bun.password.hash(password, { algorithm: 'argon2id' })
}

const accountDisabled = () => new UnauthorizedError('account_disabled', 'this account is disabled; ask an admin')

// A fixed hash to verify against when the email is unknown, so timing does not reveal accounts.
const dummyHash = Bun.password.hashSync('not-a-real-password', { algorithm: 'argon2id' })

/** Accounts and sessions; knows nothing of HTTP. */
export function authService(deps: {
  users: UsersRepository
  access: AccessTokens
  refresh: RefreshTokenStore
  loginLimiter: RateLimiter
  ipLimiter: RateLimiter
  allowSignup: boolean
  /** Records sign-ins, failures, logouts and token reuse (optional: tests may leave it out). */
  audit?: Pick<AuditLog, 'record'>
}) {
  const { users, access, refresh } = deps
  const audit = (input: Parameters<AuditLog['record']>[0]) => deps.audit?.record(input)

  /** Creates an account whose password follows the registration rules (`open`: signup allowed). */
  async function createAccount(input: { email: string; password: string; name?: string; role?: Role }, open: boolean): Promise<UserView> {
    const passwordHash = await hashNewPassword(input.password)
    const name = input.name?.trim() || input.email.split('@')[0]
    const created = await users.create({ email: input.email, name, passwordHash, role: input.role }, open)
    if (created === 'closed') throw new ForbiddenError('signup_closed', 'sign-up is closed on this server; ask an admin for an account')
    if (created === 'taken') throw new ConflictError('email_taken', 'an account with this email already exists')
    return userView(created)
  }

  async function session(user: UserView): Promise<Session> {
    const [{ token }, refreshToken] = await Promise.all([access.sign(user), refresh.startFamily(user.id)])
    return { user, accessToken: token, refreshToken, expiresIn: access.ttlSeconds }
  }

  return {
    session,

    createAccount,

    /** A sign-in by another route (single sign-on): last-active time and the audit event. */
    async signedIn(userId: string, ip?: string): Promise<void> {
      await users.touchActive(userId)
      await audit({ actorId: userId, action: 'login', targetId: userId, ip, detail: ip ? undefined : { via: 'oidc' } })
    },

    async register(input: { email: string; password: string; name?: string }): Promise<Session> {
      return session(await createAccount(input, deps.allowSignup))
    },

    async login(input: { email: string; password: string }, ip: string): Promise<Session> {
      const email = input.email.toLowerCase()
      for (const [limiter, key] of [
        [deps.loginLimiter, `email:${email}`],
        [deps.ipLimiter, `ip:${ip}`],
      ] as const) {
        const decision = await limiter.hit(key)
        if (!decision.allowed) throw new RateLimitedError(decision.retryAfterSeconds, 'too many login attempts, try again later')
      }
      const user = await users.findByEmail(email)
      const ok = await Bun.password.verify(input.password, user?.passwordHash ?? dummyHash)
      if (!user || !user.passwordHash || !ok) {
        await audit({ actorId: null, action: 'login_failed', targetId: user?.id, ip })
        throw new UnauthorizedError('invalid_credentials', 'email or password is wrong')
      }
      if (user.disabled) {
        await audit({ actorId: user.id, action: 'login_failed', targetId: user.id, ip, detail: { reason: 'account_disabled' } })
        throw accountDisabled()
      }
      await deps.loginLimiter.reset(`email:${email}`)
      await users.touchActive(user.id)
      await audit({ actorId: user.id, action: 'login', targetId: user.id, ip })
      return session(userView(user))
    },

    async refresh(refreshToken: string, ip?: string): Promise<Omit<Session, 'user'>> {
      const result = await refresh.rotate(refreshToken)
      if (!result.ok) {
        if (result.reason === 'reused') {
          const owner = await refresh.ownerOf(refreshToken)
          await audit({ actorId: owner ?? null, action: 'refresh_reused', targetId: owner, ip })
        }
        if (result.reason === 'reused') throw new UnauthorizedError('refresh_token_reused', 'this refresh token was already used; the session has been revoked, sign in again')
        if (result.reason === 'expired') throw new UnauthorizedError('refresh_token_expired', 'the refresh token has expired, sign in again')
        throw new UnauthorizedError('invalid_refresh_token', 'the refresh token is not valid')
      }
      const user = await users.findById(result.userId)
      if (!user) throw new UnauthorizedError('invalid_refresh_token', 'the account no longer exists')
      if (user.disabled) {
        await refresh.revokeAllForUser(user.id, 'disabled')
        throw accountDisabled()
      }
      await users.touchActive(user.id)
      const { token } = await access.sign(user)
      return { accessToken: token, refreshToken: result.token, expiresIn: access.ttlSeconds }
    },

    async logout(refreshToken: string, ip?: string): Promise<void> {
      const owner = await refresh.ownerOf(refreshToken)
      if (await refresh.revokeByToken(refreshToken)) await audit({ actorId: owner ?? null, action: 'logout', targetId: owner, ip })
    },

    async me(userId: string): Promise<UserView> {
      const user = await users.findById(userId)
      if (!user) throw new AppError(401, 'session_revoked', 'the account no longer exists')
      return userView(user)
    },

    /** Checks a user's current password (account deletion, password change). */
    async verifyPassword(userId: string, password: string): Promise<boolean> {
      const user = await users.findById(userId)
      return Bun.password.verify(password, user?.passwordHash ?? dummyHash).then((ok) => ok && !!user?.passwordHash)
    },

    /** Sets a new password (the caller checked who may); the policy of hashNewPassword applies. */
    async setPassword(userId: string, password: string): Promise<boolean> {
      return users.setPasswordHash(userId, await hashNewPassword(password))
    },
  }
}

export type AuthService = ReturnType<typeof authService>
