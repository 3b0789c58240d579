import type { UsersRepository, UserView } from '../db/repositories/users'
import { userView } from '../db/repositories/users'
import type { AccessTokens } from './tokens'
import type { RefreshTokenStore } from './refresh-tokens'
import type { FailureLimiter, RateLimiter } from './rate-limit'
import type { SessionsService } from './sessions/service'
import { assertStrongPassword } from './password-policy'
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
 * change): the strength policy (400 `weak_password`, saying why) applies to all of them.
 * `hints` are words a guesser would try first (the email, the name).
 */
export async function hashNewPassword(password: string, hints: string[] = []): Promise<string> {
  if (password.length > 256) throw new AppError(400, 'weak_password', 'the password must be at most 256 characters')
  assertStrongPassword(password, hints)
  return Bun.password.hash(password, { algorithm: 'argon2id' })
}

// A fixed hash to verify against when the email is unknown, so timing does not reveal accounts.
const dummyHash = Bun.password.hashSync('not-a-real-password', { algorithm: 'argon2id' })

/** Accounts and sessions; knows nothing of HTTP. */
export function authService(deps: {
  users: UsersRepository
  access: AccessTokens
  refresh: RefreshTokenStore
  sessions: SessionsService
  /** Failed logins per (account, client address): a stranger elsewhere can't lock the owner out. */
  accountFailures: FailureLimiter
  /** Failed logins per client address across accounts (credential stuffing), a larger allowance. */
  addressFailures: FailureLimiter
  /** Registrations per client address (each costs an argon2 hash). */
  registrations: RateLimiter
  allowSignup: boolean
  /** Records sign-ins, failures, logouts and token reuse (optional: tests may leave it out). */
  audit?: Pick<AuditLog, 'record'>
}) {
  const { users, access, refresh, sessions } = deps
  const audit = (input: Parameters<AuditLog['record']>[0]) => deps.audit?.record(input)

  /** Creates an account whose password follows the password rules (`open`: signup allowed). */
  async function createAccount(
    input: { email: string; password: string; name?: string; role?: Role },
    open: boolean,
  ): Promise<UserView> {
    const passwordHash = await hashNewPassword(input.password, [input.email, input.name ?? ''])
    const name = input.name?.trim() || input.email.split('@')[0]
    const created = await users.create({ email: input.email, name, passwordHash, role: input.role }, open)
    if (created === 'closed')
      throw new ForbiddenError('signup_closed', 'sign-up is closed on this server; ask an admin for an account')
    if (created === 'taken') throw new ConflictError('email_taken', 'an account with this email already exists')
    return userView(created)
  }

  /** A new sign-in: a refresh family, and an access token tied to it. */
  async function session(user: UserView): Promise<Session> {
    const family = await refresh.startFamily(user.id)
    const { token } = await access.sign(user, family.familyId)
    return { user, accessToken: token, refreshToken: family.token, expiresIn: access.ttlSeconds }
  }

  return {
    session,

    createAccount,

    /** A sign-in by another route (single sign-on): last-active time and the audit event. */
    async signedIn(userId: string, ip?: string): Promise<void> {
      await users.touchActive(userId)
      await audit({ actorId: userId, action: 'login', targetId: userId, ip, detail: ip ? undefined : { via: 'oidc' } })
    },

    async register(input: { email: string; password: string; name?: string }, address: string): Promise<Session> {
      const decision = await deps.registrations.hit(address)
      if (!decision.allowed)
        throw new RateLimitedError(
          decision.retryAfterSeconds,
          'too many accounts created from this address, try again later',
        )
      return session(await createAccount(input, deps.allowSignup))
    },

    async login(input: { email: string; password: string }, address: string): Promise<Session> {
      const email = input.email.toLowerCase()
      const accountKey = `${email}|${address}`
      const byAccount = await deps.accountFailures.attempt(accountKey)
      if (!byAccount.allowed)
        throw new RateLimitedError(
          byAccount.retryAfterSeconds,
          'too many failed sign-ins for this account from here; wait a moment and try again',
        )
      const byAddress = await deps.addressFailures.attempt(address)
      if (!byAddress.allowed) {
        await deps.accountFailures.forgive(accountKey) // refused before trying: not a failure
        throw new RateLimitedError(
          byAddress.retryAfterSeconds,
          'too many failed sign-ins from this address; wait a moment and try again',
        )
      }
      // Both attempts already count as failures (see FailureLimiter); a success takes them back.
      const user = await users.findByEmail(email)
      const ok = await Bun.password.verify(input.password, user?.passwordHash ?? dummyHash)
      if (!user?.passwordHash || !ok) {
        await audit({ actorId: null, action: 'login_failed', targetId: user?.id, ip: address })
        throw new UnauthorizedError('invalid_credentials', 'email or password is wrong')
      }
      await Promise.all([deps.accountFailures.reset(accountKey), deps.addressFailures.forgive(address)])
      if (user.disabled) {
        await audit({
          actorId: user.id,
          action: 'login_failed',
          targetId: user.id,
          ip: address,
          detail: { reason: 'account_disabled' },
        })
        throw new ForbiddenError('account_disabled', 'this account is disabled; ask an admin')
      }
      await users.touchActive(user.id)
      await audit({ actorId: user.id, action: 'login', targetId: user.id, ip: address })
      return session(userView(user))
    },

    async refresh(refreshToken: string, ip?: string): Promise<Omit<Session, 'user'>> {
      const result = await refresh.rotate(refreshToken)
      if (!result.ok) {
        if (result.reason === 'reused') {
          // The family is revoked in the database already; its access tokens stop working now.
          await sessions.endFamily(result.userId, result.familyId, 'reuse')
          await audit({ actorId: result.userId, action: 'refresh_reused', targetId: result.userId, ip })
          throw new UnauthorizedError(
            'refresh_token_reused',
            'this refresh token was already used; the session has been revoked, sign in again',
          )
        }
        if (result.reason === 'expired')
          throw new UnauthorizedError('refresh_token_expired', 'the refresh token has expired, sign in again')
        throw new UnauthorizedError('invalid_refresh_token', 'the refresh token is not valid')
      }
      const user = await users.findById(result.userId)
      if (!user) throw new UnauthorizedError('session_revoked', 'the account no longer exists')
      if (user.disabled) throw new UnauthorizedError('account_disabled', 'this account is disabled; ask an admin')
      await users.touchActive(user.id)
      const { token } = await access.sign(user, result.familyId)
      return { accessToken: token, refreshToken: result.token, expiresIn: access.ttlSeconds }
    },

    async logout(refreshToken: string, ip?: string): Promise<void> {
      const ended = await refresh.revokeByToken(refreshToken)
      if (!ended) return
      await sessions.endFamily(ended.userId, ended.familyId, 'logout')
      await audit({ actorId: ended.userId, action: 'logout', targetId: ended.userId, ip })
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

    /** Sets a new password (the caller checked who may); the password rules apply. */
    async setPassword(userId: string, password: string): Promise<boolean> {
      const user = await users.findById(userId)
      return users.setPasswordHash(userId, await hashNewPassword(password, user ? [user.email, user.name] : []))
    },
  }
}

export type AuthService = ReturnType<typeof authService>
