/** The user's own account: usage, the account export (only their own data), password changes. */
import { expectStatus } from '../client'
import { FuzzFailure } from '../world'
import type { FuzzOp } from './types'

export const accountOps: FuzzOp[] = [
  {
    name: 'usage.get',
    weight: 1,
    async run(ctx) {
      const answer = await ctx.http('GET', '/api/usage')
      expectStatus(answer, 200)
      if (!Array.isArray(answer.json.usage) || typeof answer.json.quota !== 'object')
        throw new FuzzFailure(`${answer.where}: not a usage answer: ${answer.text.slice(0, 200)}`)
      if (answer.json.usage.some((u: any) => 'userId' in u))
        throw new FuzzFailure(`${answer.where}: usage rows name users`)
      return 'own'
    },
  },
  {
    name: 'account.export',
    weight: 1,
    async run(ctx) {
      // Scanned like every answer (another user's marker, id, name or key is a leak), and every
      // thread, note, dataset and document in it is the user's own.
      const answer = await ctx.http('GET', '/api/me/export')
      expectStatus(answer, 200)
      const doc = answer.json
      if (doc.profile?.id !== ctx.actor.id && doc.profile?.email?.toLowerCase() !== ctx.actor.email.toLowerCase())
        throw new FuzzFailure(`${answer.where}: the profile is not user ${ctx.actor.index}'s`)
      if (JSON.stringify(doc).includes('passwordHash') || answer.text.includes('$argon2'))
        throw new FuzzFailure(`${answer.where}: the export holds a password hash`)
      for (const key of ['threads', 'notes', 'datasets', 'documents'] as const) {
        for (const item of doc[key] ?? []) {
          const id = item.id ?? item.thread?.id
          if (id && ctx.world.ownerOf(String(id).toLowerCase())?.owner !== ctx.actor.index)
            throw new FuzzFailure(`${answer.where}: ${key} entry ${id} is not user ${ctx.actor.index}'s`)
        }
      }
      for (const id of ctx.actor.threads.keys())
        if (!answer.text.includes(id))
          throw new FuzzFailure(`${answer.where}: user ${ctx.actor.index}'s thread ${id} is missing`)
      return 'own'
    },
  },
  {
    name: 'account.password',
    // Hashing a password costs ~0.3 s: rarer.
    weight: 0.5,
    async run(ctx) {
      if (ctx.rand.bool(0.6) || !ctx.actor.refreshToken) {
        // A wrong current password changes nothing: the user keeps signing in with the old one.
        const answer = await ctx.http('POST', '/api/me/password', {
          body: { currentPassword: `${ctx.actor.password}-wrong`, newPassword: `Fuzz-${crypto.randomUUID()}` },
        })
        if (answer.status !== 403 || answer.json.error.code !== 'invalid_credentials')
          throw new FuzzFailure(`${answer.where}: a wrong current password: ${answer.text.slice(0, 200)}`)
        return 'wrong-403'
      }
      // A real change, keeping this session (its refresh token): other sign-ins of the user end.
      const newPassword = `Fuzz-${crypto.randomUUID()}`
      const answer = await ctx.http('POST', '/api/me/password', {
        body: { currentPassword: ctx.actor.password, newPassword, refreshToken: ctx.actor.refreshToken },
      })
      expectStatus(answer, 204)
      ctx.actor.password = newPassword
      return 'own-changed'
    },
  },
]
