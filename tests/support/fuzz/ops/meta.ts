/** Routes without user data: agents, models, health, readiness, metrics, unknown routes, missing tokens. */
import { expectStatus } from '../client'
import { FuzzFailure } from '../world'
import type { FuzzOp } from './types'
import { readOwn } from './shapes'

/** A protected route of each area, for the "no token" and "bad token" ops. */
export const PROTECTED = [
  '/api/me',
  '/api/threads',
  '/api/notes',
  '/api/datasets',
  '/api/agents',
  '/api/models',
  '/api/shares',
  '/api/documents',
  '/api/keys',
  '/api/usage',
  '/api/me/export',
  '/api/search?q=secret',
  '/api/admin/users',
  '/api/admin/audit',
]

export const metaOps: FuzzOp[] = [
  readOwn('agents.list', 1, '/api/agents', (_ctx, answer) => {
    if (!Array.isArray(answer.json.agents) || answer.json.agents.length === 0)
      throw new FuzzFailure(`${answer.where}: no agents`)
  }),
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
      const path = ctx.rand.pick([
        '/health',
        '/ready',
        '/metrics',
        '/',
        '/api/auth/oidc/config',
        '/api/auth/oidc/login',
        '/api/auth/oidc/callback?code=x&state=y',
      ])!
      const answer = await ctx.anon('GET', path)
      expectStatus(answer, 200, 302, 400, 404, 503)
      return path
    },
  },
  {
    name: 'anonymous.protected',
    weight: 1,
    async run(ctx) {
      const path = ctx.rand.pick([
        ...PROTECTED,
        `/api/threads/${ctx.send(ctx.rand.pick([...ctx.target.threads.keys()]) ?? crypto.randomUUID())}`,
      ])!
      const answer = await ctx.anon('GET', path)
      expectStatus(answer, 401)
      return '401'
    },
  },
  {
    name: 'http.malformed',
    weight: 2,
    async run(ctx) {
      // Bad input is a 400 and changes nothing (the owner's next list checks the model).
      const thread = ctx.send(ctx.rand.pick([...ctx.target.threads.keys()]) ?? crypto.randomUUID())
      const [method, path, body] = ctx.rand.pick([
        ['POST', '/api/threads', '{"title":'],
        ['POST', '/api/threads', { title: 42 }],
        ['PATCH', `/api/threads/${thread}`, { title: '' }],
        ['PATCH', `/api/threads/${thread}`, '{oops'],
        ['POST', '/api/notes', { title: '', body: 'x' }],
        ['POST', '/api/notes', { body: 'no title' }],
        ['POST', '/api/datasets', { name: 'x' }],
        ['POST', '/api/datasets', { name: 'bad', csv: '' }],
        ['POST', '/api/auth/refresh', { refreshToken: '' }],
        ['POST', '/api/auth/login', { email: 'not-an-email', password: 'x' }],
        ['GET', `/api/runs/${thread}/events?after=-1`, undefined],
      ] as const)!
      const answer = await ctx.http(method, path, { body })
      // A foreign thread id with a bad body may be refused for either reason; never more.
      expectStatus(answer, 400, ...(ctx.hostile && path.includes(thread) ? [404] : []))
      return `${method} ${path.replace(thread, ':id')} ${answer.status}`
    },
  },
  {
    name: 'anonymous.unknown-route',
    weight: 1,
    async run(ctx) {
      const answer = await ctx.http(
        ctx.rand.pick(['GET', 'POST', 'PUT'])!,
        ctx.rand.pick(['/api/nope', '/api/threads/x/y/z', '/api/admin/nope', '/api/users'])!,
      )
      expectStatus(answer, 404, 401)
      return String(answer.status)
    },
  },
]
