/**
 * Administration: the admin (user 0, the first account) may list accounts, usage, the audit log
 * and the status board — other users' ids and emails may show, never their content (markers,
 * dataset names, key secrets); members get 403 on every admin route, whoever they name.
 */
import { expectStatus } from '../client'
import { FuzzFailure } from '../world'
import type { FuzzOp } from './types'

const READS = [
  '/api/admin/users',
  '/api/admin/usage',
  '/api/admin/audit',
  '/api/admin/status',
  '/api/admin/users?limit=200',
  '/api/admin/audit?action=share_created',
]

export const adminOps: FuzzOp[] = [
  {
    name: 'admin.read',
    weight: 2,
    async run(ctx) {
      const path = ctx.rand.pick(READS)!
      const answer = await ctx.http('GET', path, { allowAccounts: true, allowIds: true })
      if (!ctx.actor.admin) {
        if (answer.status !== 403 || answer.json.error.code !== 'forbidden')
          throw new FuzzFailure(`${answer.where}: a member read an admin route`)
        return 'member-403'
      }
      expectStatus(answer, 200)
      if (path.startsWith('/api/admin/users')) {
        const ids = new Set(answer.json.users.map((u: any) => u.id))
        for (const user of ctx.world.users)
          if (!ids.has(user.id)) throw new FuzzFailure(`${answer.where}: user ${user.index} is not listed`)
      }
      return `admin ${path}`
    },
  },
  {
    name: 'admin.write',
    weight: 1,
    async run(ctx) {
      // Members trying to promote themselves, disable or sign out someone, or create an account.
      if (ctx.actor.admin) return 'admin-skipped'
      const victim = ctx.send(ctx.rand.pick([ctx.target.id, ctx.actor.id, ctx.world.users[0]!.id])!)
      const [method, path, body] = ctx.rand.pick([
        ['PATCH', `/api/admin/users/${victim}`, { role: 'admin' }],
        ['PATCH', `/api/admin/users/${victim}`, { disabled: true }],
        ['POST', `/api/admin/users/${victim}/sign-out`, undefined],
        [
          'POST',
          '/api/admin/users',
          { email: `intruder-${crypto.randomUUID()}@example.test`, password: `Fuzz-${crypto.randomUUID()}` },
        ],
      ] as const)!
      const answer = await ctx.http(method, path, { body })
      if (answer.status !== 403 || answer.json.error.code !== 'forbidden')
        throw new FuzzFailure(`${answer.where}: a member used an admin route: ${answer.text.slice(0, 200)}`)
      return `member-403 ${method} ${path.replace(victim, ':id')}`
    },
  },
]
