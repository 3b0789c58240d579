/**
 * Accounts and sessions: /api/me, refresh rotation, replayed (spent) refresh tokens of the actor
 * and of others, logout, wrong passwords for others' accounts, and forged or tampered access tokens.
 */
import { expectStatus, request, type FuzzStack } from '../client'
import { forgeAccessToken, tamperPayload, unsignedToken } from '../../tokens'
import { FuzzFailure } from '../world'
import { PROTECTED } from './meta'
import type { FuzzOp, FuzzUser, StepContext } from './types'

/** A fresh session by password; a refused login (rate limited) leaves the user without a refresh token. */
export async function login(stack: FuzzStack, user: FuzzUser): Promise<string> {
  // Scanned as the user who signs in: the answer is theirs, whoever's step caused it.
  const answer = await request(stack, user, 'POST', '/api/auth/login', { token: null, body: { email: user.email, password: user.password } })
  if (answer.status === 429) {
    user.refreshToken = undefined
    return 'rate-limited'
  }
  expectStatus(answer, 200)
  if (answer.json.user.id !== user.id) throw new FuzzFailure(`${answer.where}: logged in as ${answer.json.user.id}, not ${user.id}`)
  user.accessToken = answer.json.accessToken
  user.refreshToken = answer.json.refreshToken
  return 'ok'
}

async function rotate(ctx: StepContext, user: FuzzUser) {
  const answer = await ctx.http('POST', '/api/auth/refresh', { token: null, body: { refreshToken: user.refreshToken } })
  expectStatus(answer, 200)
  user.spentRefreshTokens.push(user.refreshToken!)
  user.accessToken = answer.json.accessToken
  user.refreshToken = answer.json.refreshToken
}

/**
 * The session ended (logout, or a spent refresh token revoked its family, RFC 9700 §4.14.2): the
 * user closes the sockets of that session and signs in again, like a browser tab would.
 */
async function afterRevocation(ctx: StepContext, user: FuzzUser) {
  user.refreshToken = undefined
  for (const socket of user.sockets) socket.client.close()
  await Promise.all(user.sockets.map((s) => s.client.closed))
  return login(ctx.stack, user)
}

export const authOps: FuzzOp[] = [
  {
    name: 'auth.me',
    weight: 3,
    async run(ctx) {
      const answer = await ctx.http('GET', '/api/me')
      expectStatus(answer, 200)
      if (answer.json.user.id !== ctx.actor.id || answer.json.user.email !== ctx.actor.email.toLowerCase()) throw new FuzzFailure(`${answer.where}: not user ${ctx.actor.index}: ${answer.text}`)
      return 'own'
    },
  },
  {
    name: 'auth.refresh',
    weight: 2,
    async run(ctx) {
      if (!ctx.actor.refreshToken) return `relogin-${await login(ctx.stack, ctx.actor)}`
      await rotate(ctx, ctx.actor)
      return 'own'
    },
  },
  {
    name: 'auth.refresh-replay',
    weight: 1,
    // Replaying another user's spent token revokes *their* family: nothing else may run meanwhile.
    exclusive: true,
    async run(ctx) {
      const victim = ctx.target
      const spent = ctx.rand.pick(victim.spentRefreshTokens)
      if (!spent) return 'nothing-spent'
      const answer = await ctx.http('POST', '/api/auth/refresh', { token: null, body: { refreshToken: spent } })
      expectStatus(answer, 401)
      if (!['refresh_token_reused', 'invalid_refresh_token', 'refresh_token_expired'].includes(answer.json.error.code)) throw new FuzzFailure(`${answer.where}: unexpected code ${answer.json.error.code}`)
      // The victim's current refresh token must be dead now, whoever replayed the spent one.
      if (victim.refreshToken && answer.json.error.code === 'refresh_token_reused') {
        const probe = await ctx.http('POST', '/api/auth/refresh', { token: null, body: { refreshToken: victim.refreshToken } })
        expectStatus(probe, 401)
      }
      await afterRevocation(ctx, victim)
      return ctx.hostile ? 'foreign-401' : 'own-401'
    },
  },
  {
    name: 'auth.logout',
    weight: 1,
    async run(ctx) {
      if (!ctx.actor.refreshToken) return `relogin-${await login(ctx.stack, ctx.actor)}`
      const answer = await ctx.http('POST', '/api/auth/logout', { token: null, body: { refreshToken: ctx.actor.refreshToken } })
      expectStatus(answer, 204)
      const replay = await ctx.http('POST', '/api/auth/refresh', { token: null, body: { refreshToken: ctx.actor.refreshToken } })
      expectStatus(replay, 401)
      return `own-relogin-${await afterRevocation(ctx, ctx.actor)}`
    },
  },
  {
    name: 'auth.login-wrong-password',
    weight: 1,
    async run(ctx) {
      const answer = await ctx.http('POST', '/api/auth/login', { token: null, body: { email: ctx.send(ctx.target.email.toLowerCase()), password: 'wrong-password-0' } })
      expectStatus(answer, 401, 429)
      return String(answer.status)
    },
  },
  {
    name: 'auth.forged-token',
    weight: 2,
    async run(ctx) {
      // Every way of claiming to be the target without their token must be a 401.
      const cfg = ctx.stack.server.config
      const other = ctx.target !== ctx.actor ? ctx.target : ctx.world.users[(ctx.actor.index + 1) % ctx.world.users.length]!
      const victim = ctx.send(other.id)
      const kind = ctx.rand.pick(['tampered-sub', 'wrong-secret', 'alg-none', 'expired', 'garbage'] as const)!
      const token =
        kind === 'tampered-sub'
          ? tamperPayload(ctx.actor.accessToken, (p) => void (p.sub = victim))
          : kind === 'wrong-secret'
            ? await forgeAccessToken(cfg, { sub: victim, secret: 'not-the-server-secret-0123456789abcdef' })
            : kind === 'alg-none'
              ? unsignedToken(cfg, victim)
              : kind === 'expired'
                ? await forgeAccessToken(cfg, { sub: victim, exp: Math.floor(Date.now() / 1000) - 60, iat: Math.floor(Date.now() / 1000) - 120 })
                : 'not.a.token'
      const answer = await ctx.http('GET', ctx.rand.pick(PROTECTED)!, { token })
      expectStatus(answer, 401)
      return kind
    },
  },
]
