/**
 * Credentials before input (docs/api.md, "Errors"): on every route that needs a token, a caller
 * without a valid one hears 401 whatever body or query it sent; a member on an admin route hears
 * 403; `/v1` and `/mcp` take nothing but an API key. Only a caller let through has its input
 * judged (400 `invalid_json`, `invalid_input`). Every route of the app is walked, so a route added
 * later is covered the day it is added, and one meant to be public must be named below.
 */
import { describe, expect, test } from 'bun:test'
import { expectError } from '../../support/http'
import { useTestServer } from '../../support/fixtures'

/** The routes anyone may call (docs/api.md), as "METHOD /path". */
const PUBLIC = new Set([
  'GET /health',
  'GET /ready',
  'GET /metrics',
  'GET /api/setup',
  'POST /api/auth/register',
  'POST /api/auth/login',
  'POST /api/auth/refresh',
  'POST /api/auth/logout',
  'GET /api/auth/oidc/config',
  'GET /api/auth/oidc/login',
  'GET /api/auth/oidc/callback',
  'GET /api/shares/:id/public',
  'GET /',
  'GET /index.html',
  'GET /assets/:file',
  'GET /s/:id',
])

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])

/** What a caller may send wrong: no body, a body that is not JSON, one of the wrong shape; a bad query. */
const BAD_INPUT: { what: string; query?: string; body?: string }[] = [
  { what: 'nothing' },
  { what: 'malformed JSON', body: '{"title": oops' },
  { what: 'the wrong shape', body: '{"unexpected":[1,2,3]}' },
  { what: 'a bad query', query: '?limit=lots&after=x&cursor=%25' },
]

const {
  server,
  users: [admin, member],
} = useTestServer({ users: ['cf-admin', 'cf-member'], env: { OLLAMA_HOST: 'http://127.0.0.1:9' } })

interface Route {
  method: string
  path: string
}

function routes(): Route[] {
  const all = (server.app.routes as Route[]).filter(
    (r) => METHODS.has(r.method) && !PUBLIC.has(`${r.method} ${r.path}`),
  )
  expect(all.length).toBeGreaterThan(40)
  return all
}

/** The route with its parameters filled in by ids nobody has. */
const concrete = (path: string) => path.replace(/:[A-Za-z]+/g, () => crypto.randomUUID())

async function statuses(route: Route, token: string | undefined) {
  const answers: string[] = []
  for (const input of BAD_INPUT) {
    if (input.body && route.method === 'GET') continue
    const res = await server.api(concrete(route.path) + (input.query ?? ''), {
      method: route.method,
      token,
      body: input.body,
    })
    const code = res.headers.get('content-type')?.includes('application/json')
      ? ((await res.json()) as { error?: { code?: string } }).error?.code
      : await res.text().then(() => undefined)
    answers.push(`${route.method} ${route.path} with ${input.what}: ${res.status} ${code}`)
  }
  return answers
}

const each = (answers: string[], expected: RegExp) => answers.filter((answer) => !expected.test(answer))

describe('credentials are checked before input', () => {
  test('without a token every protected route answers 401, whatever was sent', async () => {
    const wrong: string[] = []
    for (const route of routes())
      wrong.push(...each(await statuses(route, undefined), /: 401 (unauthorized|missing_api_key)$/))
    expect(wrong).toEqual([])
  })

  test('with a token that is not valid every protected route answers 401, whatever was sent', async () => {
    const wrong: string[] = []
    for (const route of routes()) wrong.push(...each(await statuses(route, 'not.a.token'), /: 401 \w+$/))
    expect(wrong).toEqual([])
  })

  test('a member hears 403 on every admin route and 401 on the API-key routes, whatever was sent', async () => {
    const wrong: string[] = []
    for (const route of routes()) {
      if (route.path.startsWith('/api/admin'))
        wrong.push(...each(await statuses(route, member.accessToken), /: 403 forbidden$/))
      // An access token is not an API key (and a key is not an access token).
      else if (route.path.startsWith('/v1') || route.path.startsWith('/mcp'))
        wrong.push(...each(await statuses(route, member.accessToken), /: 401 \w+$/))
    }
    expect(wrong).toEqual([])
  })

  test('once let through, a caller whose body is not JSON hears 400 invalid_json on every route', async () => {
    const wrong: string[] = []
    for (const route of routes()) {
      if (route.method === 'GET' || route.path.startsWith('/v1') || route.path.startsWith('/mcp')) continue
      const token = route.path.startsWith('/api/admin') ? admin.accessToken : member.accessToken
      const res = await server.api(concrete(route.path), { method: route.method, token, body: '{"title": oops' })
      const body = await res.text()
      if (res.status !== 400) wrong.push(`${route.method} ${route.path}: ${res.status} ${body}`)
    }
    expect(wrong).toEqual([])
  })

  test('a body of the wrong shape from a member is invalid_input; from nobody, 401 and nothing is stored', async () => {
    await expectError(
      await server.api('/api/notes', { token: member.accessToken, body: { title: 7 } }),
      400,
      'invalid_input',
    )
    await expectError(await server.api('/api/notes', { body: { title: 7 } }), 401, 'unauthorized')
    await expectError(await server.api('/api/notes', { body: '{"title": oops' }), 401, 'unauthorized')
    await expectError(
      await server.api('/api/notes', { token: member.accessToken, body: '{"title": oops' }),
      400,
      'invalid_json',
    )
    const notes = await server.api('/api/notes', { token: member.accessToken })
    expect(((await notes.json()) as { notes: unknown[] }).notes).toEqual([])
  })
})
