/**
 * Accounts and sessions: /api/me, refresh rotation, replayed (spent) refresh tokens of the actor
 * and of others, logout, wrong passwords for others' accounts, and forged or tampered access tokens.
 */
import { expectStatus, request, type FuzzStack } from '../client'
import { forgeAccessToken, tamperPayload, unsignedToken } from '../../tokens'
import { FuzzFailure } from '../world'
import { PROTECTED } from './meta'
import type { FuzzOp, FuzzUser, StepContext } from './types'
import { readOwn } from './shapes'

/** A fresh session by password; a refused login (rate limited) leaves the user without a refresh token. */
export async function login(stack: FuzzStack, user: FuzzUser): Promise<string> {
  // Scanned as the user who signs in: the answer is theirs, whoever's step caused it.
  const answer = await request(stack, user, 'POST', '/api/auth/login', {
    token: null,
    body: { email: user.email, password: user.password },
  })
  if (answer.status === 429) {
    user.refreshToken = undefined
    return 'rate-limited'
  }
  expectStatus(answer, 200)
  if (answer.json.user.id !== user.id)
    throw new FuzzFailure(`${answer.where}: logged in as ${answer.json.user.id}, not ${user.id}`)
  // A new session: the old family's tokens are stale from now on.
  user.staleRefreshTokens.push(...user.spentRefreshTokens, ...(user.refreshToken ? [user.refreshToken] : []))
  user.spentRefreshTokens = []
  stack.world.newAccessToken(user, answer.json.accessToken)
  user.refreshToken = answer.json.refreshToken
  return 'ok'
}

async function rotate(ctx: StepContext, user: FuzzUser) {
  const answer = await ctx.http('POST', '/api/auth/refresh', { token: null, body: { refreshToken: user.refreshToken } })
  expectStatus(answer, 200)
  user.spentRefreshTokens.push(user.refreshToken!)
  ctx.world.newAccessToken(user, answer.json.accessToken)
  user.refreshToken = answer.json.refreshToken
}

/**
 * The session ended (logout, or a spent refresh token revoked its family, RFC 9700 §4.14.2): the
 * user closes the sockets of that session and signs in again, like a browser tab would.
 */
async function afterRevocation(ctx: StepContext, user: FuzzUser) {
  if (user.refreshToken) user.staleRefreshTokens.push(user.refreshToken)
  user.refreshToken = undefined
  for (const socket of user.sockets) socket.client.close()
  await Promise.all(user.sockets.map((s) => s.client.closed))
  return login(ctx.stack, user)
}

export const authOps: FuzzOp[] = [
  readOwn('auth.me', 3, '/api/me', (ctx, answer) => {
    if (answer.json.user.id !== ctx.actor.id || answer.json.user.email !== ctx.actor.email.toLowerCase())
      throw new FuzzFailure(`${answer.where}: not user ${ctx.actor.index}: ${answer.text}`)
  }),
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
    weight: 0.3,
    // Replaying another user's spent token revokes *their* family: nothing else may run meanwhile.
    exclusive: true,
    async run(ctx) {
      const victim = ctx.target
      const current = ctx.rand.bool(0.7) && victim.spentRefreshTokens.length > 0
      const spent = ctx.rand.pick(current ? victim.spentRefreshTokens : victim.staleRefreshTokens)
      if (!spent) return 'nothing-spent'
      const answer = await ctx.http('POST', '/api/auth/refresh', { token: null, body: { refreshToken: spent } })
      expectStatus(answer, 401)
      const who = ctx.hostile ? 'foreign' : 'own'
      if (!current) {
        // A token of an ended session: refused. Whether the live session survives that is the
        // server's choice; the victim just refreshes (or signs in again) and carries on.
        if (!victim.refreshToken) return `${who}-stale-401-relogin-${await login(ctx.stack, victim)}`
        const probe = await request(ctx.stack, victim, 'POST', '/api/auth/refresh', {
          token: null,
          body: { refreshToken: victim.refreshToken },
        })
        expectStatus(probe, 200, 401)
        if (probe.status === 401) return `${who}-stale-401-revoked-${await afterRevocation(ctx, victim)}`
        victim.spentRefreshTokens.push(victim.refreshToken)
        ctx.world.newAccessToken(victim, probe.json.accessToken)
        victim.refreshToken = probe.json.refreshToken
        return `${who}-stale-401`
      }
      if (answer.json.error.code !== 'refresh_token_reused')
        throw new FuzzFailure(
          `${answer.where}: a spent token of the live family gave ${answer.json.error.code}, expected refresh_token_reused`,
        )
      // The family is revoked (RFC 9700 §4.14.2): the victim's current refresh token is dead too.
      if (victim.refreshToken)
        expectStatus(
          await ctx.http('POST', '/api/auth/refresh', { token: null, body: { refreshToken: victim.refreshToken } }),
          401,
        )
      return `${who}-reused-401-relogin-${await afterRevocation(ctx, victim)}`
    },
  },
  {
    name: 'auth.logout',
    weight: 0.3,
    async run(ctx) {
      if (!ctx.actor.refreshToken) return `relogin-${await login(ctx.stack, ctx.actor)}`
      const answer = await ctx.http('POST', '/api/auth/logout', {
        token: null,
        body: { refreshToken: ctx.actor.refreshToken },
      })
      expectStatus(answer, 204)
      const replay = await ctx.http('POST', '/api/auth/refresh', {
        token: null,
        body: { refreshToken: ctx.actor.refreshToken },
      })
      expectStatus(replay, 401)
      return `own-relogin-${await afterRevocation(ctx, ctx.actor)}`
    },
  },
  {
    name: 'auth.login-wrong-password',
    weight: 0.3,
    async run(ctx) {
      // Against the decoy account (or an unknown address): failures may slow that account's
      // logins down, and the decoy never needs to sign in.
      const email =
        ctx.rand.bool(0.8) && ctx.world.decoy
          ? ctx.send(ctx.world.decoy.email.toLowerCase())
          : `nobody-${ctx.rand.int(1000)}@example.test`
      const answer = await ctx.http('POST', '/api/auth/login', {
        token: null,
        body: { email, password: 'wrong-password-0' },
      })
      expectStatus(answer, 401, 429)
      return String(answer.status)
    },
  },
  {
    name: 'auth.old-access-token',
    weight: 1,
    async run(ctx) {
      // A replayed access token of the actor's own (refreshed away, or of a session that ended):
      // it may still work until it expires, or be refused; it never shows anyone else's data.
      const token = ctx.rand.pick(ctx.actor.oldAccessTokens)
      if (!token) return 'none-yet'
      const answer = await ctx.http('GET', ctx.rand.pick(['/api/me', '/api/threads', '/api/notes', '/api/datasets'])!, {
        token,
      })
      expectStatus(answer, 200, 401)
      if (answer.status === 200 && answer.json.user && answer.json.user.id !== ctx.actor.id)
        throw new FuzzFailure(
          `${answer.where}: an old token of user ${ctx.actor.index} answered as ${answer.json.user.id}`,
        )
      return String(answer.status)
    },
  },
  {
    name: 'auth.register-taken',
    weight: 0.3,
    async run(ctx) {
      // Someone else's email (in another case): 409, and nothing of that account in the answer.
      const email = ctx.send(ctx.target.email.toLowerCase())
      const answer = await ctx.http('POST', '/api/auth/register', {
        token: null,
        body: { email: email.toUpperCase(), password: `Taken-${crypto.randomUUID()}` },
      })
      expectStatus(answer, 409, 429)
      if (answer.status === 409 && answer.json.error.code !== 'email_taken')
        throw new FuzzFailure(`${answer.where}: ${answer.text}`)
      return String(answer.status)
    },
  },
  {
    name: 'auth.forged-token',
    weight: 2,
    async run(ctx) {
      // Every way of claiming to be the target without their token must be a 401.
      const cfg = ctx.stack.server.config
      const other =
        ctx.target !== ctx.actor ? ctx.target : ctx.world.users[(ctx.actor.index + 1) % ctx.world.users.length]!
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
                ? await forgeAccessToken(cfg, {
                    sub: victim,
                    exp: Math.floor(Date.now() / 1000) - 60,
                    iat: Math.floor(Date.now() / 1000) - 120,
                  })
                : 'not.a.token'
      const answer = await ctx.http('GET', ctx.rand.pick(PROTECTED)!, { token })
      expectStatus(answer, 401)
      return kind
    },
  },
]
