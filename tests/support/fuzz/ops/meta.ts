/** Routes without user data: agents, models, health, readiness, metrics, unknown routes, missing tokens. */
import { expectStatus } from '../client'
import { FuzzFailure } from '../world'
import type { FuzzOp } from './types'

/** A protected route of each area, for the "no token" and "bad token" ops. */
export const PROTECTED = ['/api/me', '/api/threads', '/api/notes', '/api/datasets', '/api/agents', '/api/models']

export const metaOps: FuzzOp[] = [
  {
    name: 'agents.list',
    weight: 1,
    async run(ctx) {
      const answer = await ctx.http('GET', '/api/agents')
      expectStatus(answer, 200)
      if (!Array.isArray(answer.json.agents) || answer.json.agents.length === 0) throw new FuzzFailure(`${answer.where}: no agents`)
      return 'own'
    },
  },
  {
    name: 'models.list',
    weight: 1,
    async run(ctx) {
      const answer = await ctx.http('GET', '/api/models')
      expectStatus(answer, 200, 503)
      return String(answer.status)
    },
  },
  {
    name: 'anonymous.public',
    weight: 1,
    async run(ctx) {
      // Public endpoints may be read by anyone: nothing of any user may appear in them.
      const path = ctx.rand.pick(['/health', '/ready', '/metrics', '/', '/api/auth/oidc/config'])!
      const answer = await ctx.anon('GET', path)
      expectStatus(answer, 200, 404, 503)
      return path
    },
  },
  {
    name: 'anonymous.protected',
    weight: 1,
    async run(ctx) {
      const path = ctx.rand.pick([...PROTECTED, `/api/threads/${ctx.send(ctx.rand.pick([...ctx.target.threads.keys()]) ?? crypto.randomUUID())}`])!
      const answer = await ctx.anon('GET', path)
      expectStatus(answer, 401)
      return '401'
    },
  },
  {
    name: 'anonymous.unknown-route',
    weight: 1,
    async run(ctx) {
      const answer = await ctx.http(ctx.rand.pick(['GET', 'POST', 'PUT'])!, ctx.rand.pick(['/api/nope', '/api/threads/x/y/z', '/api/admin/users', '/api/users'])!)
      expectStatus(answer, 404, 401)
      return String(answer.status)
    },
  },
]
