import type { UsersRepository, UserView } from '../db/repositories/users'
import { userView } from '../db/repositories/users'
import type { AccessTokens } from './tokens'
import type { RefreshTokenStore } from './refresh-tokens'
import type { FailureLimiter, RateLimiter } from './rate-limit'
import type { SessionsService } from './sessions/service'
import { assertStrongPassword } from './password-policy'
import { AppError, ConflictError, ForbiddenError, RateLimitedError, UnauthorizedError } from '../http/errors'

export interface Session {
  user: UserView
  accessToken: string
  refreshToken: string
  expiresIn: number
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
}) {
  const { users, access, refresh, sessions } = deps

  /** A new sign-in: a refresh family, and an access token tied to it. */
  async function session(user: UserView): Promise<Session> {
    const family = await refresh.startFamily(user.id)
    const { token } = await access.sign(user, family.familyId)
    return { user, accessToken: token, refreshToken: family.token, expiresIn: access.ttlSeconds }
  }

  return {
    session,

    async register(input: { email: string; password: string; name?: string }, address: string): Promise<Session> {
      const decision = await deps.registrations.hit(address)
      if (!decision.allowed) throw new RateLimitedError(decision.retryAfterSeconds, 'too many accounts created from this address, try again later')
      assertStrongPassword(input.password, [input.email, input.name ?? ''])
      const passwordHash = await Bun.password.hash(input.password, { algorithm: 'argon2id' })
      const name = input.name?.trim() || input.email.split('@')[0]
      const created = await users.create({ email: input.email, name, passwordHash }, deps.allowSignup)
      if (created === 'closed') throw new ForbiddenError('signup_closed', 'sign-up is closed on this server; ask an admin for an account')
      if (created === 'taken') throw new ConflictError('email_taken', 'an account with this email already exists')
      return session(userView(created))
    },

    async login(input: { email: string; password: string }, address: string): Promise<Session> {
      const email = input.email.toLowerCase()
      const accountKey = `${email}|${address}`
      const byAccount = await deps.accountFailures.attempt(accountKey)
      if (!byAccount.allowed) throw new RateLimitedError(byAccount.retryAfterSeconds, 'too many failed sign-ins for this account from here; wait a moment and try again')
      const byAddress = await deps.addressFailures.attempt(address)
      if (!byAddress.allowed) {
        await deps.accountFailures.forgive(accountKey) // refused before trying: not a failure
        throw new RateLimitedError(byAddress.retryAfterSeconds, 'too many failed sign-ins from this address; wait a moment and try again')
      }
      // Both attempts already count as failures (see FailureLimiter); a success takes them back.
      const user = await users.findByEmail(email)
      const ok = await Bun.password.verify(input.password, user?.passwordHash ?? dummyHash)
      if (!user || !user.passwordHash || !ok) throw new UnauthorizedError('invalid_credentials', 'email or password is wrong')
      await Promise.all([deps.accountFailures.reset(accountKey), deps.addressFailures.forgive(address)])
      if (user.disabled) throw new ForbiddenError('account_disabled', 'this account is disabled; ask an admin')
      return session(userView(user))
    },

    async refresh(refreshToken: string): Promise<Omit<Session, 'user'>> {
      const result = await refresh.rotate(refreshToken)
      if (!result.ok) {
        if (result.reason === 'reused') {
          // The family is revoked in the database already; its access tokens stop working now.
          await sessions.endFamily(result.userId, result.familyId, 'reuse')
          throw new UnauthorizedError('refresh_token_reused', 'this refresh token was already used; the session has been revoked, sign in again')
        }
        if (result.reason === 'expired') throw new UnauthorizedError('refresh_token_expired', 'the refresh token has expired, sign in again')
        throw new UnauthorizedError('invalid_refresh_token', 'the refresh token is not valid')
      }
      const user = await users.findById(result.userId)
      if (!user) throw new UnauthorizedError('session_revoked', 'the account no longer exists')
      if (user.disabled) throw new UnauthorizedError('account_disabled', 'this account is disabled; ask an admin')
      const { token } = await access.sign(user, result.familyId)
      return { accessToken: token, refreshToken: result.token, expiresIn: access.ttlSeconds }
    },

    async logout(refreshToken: string): Promise<void> {
      const ended = await refresh.revokeByToken(refreshToken)
      if (ended) await sessions.endFamily(ended.userId, ended.familyId, 'logout')
    },

    async me(userId: string): Promise<UserView> {
      const user = await users.findById(userId)
      if (!user) throw new AppError(401, 'session_revoked', 'the account no longer exists')
      return userView(user)
    },
  }
}

export type AuthService = ReturnType<typeof authService>
