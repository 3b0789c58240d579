/**
 * Headers and exposure (PROTOCOL.md §5 "Abuse limits"): every response — API, errors, early
 * refusals, UI — carries the security headers; auth and user data are `no-store`; the UI page
 * has its CSP and frame protection; source maps are served only when WEB_SOURCE_MAPS asks for
 * them; an anonymous `/ready` says only whether things work, never where they run.
 */
import { beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { startTestServer } from '../../support/server'
import { registerUser, type TestUser } from '../../support/users'
import { expectJson } from '../../support/http'
import { useTestServer } from '../../support/fixtures'

setDefaultTimeout(60_000) // two UI builds and argon2 on a shared 2-core machine

let admin: TestUser
let member: TestUser

const { server } = useTestServer({ env: { OLLAMA_HOST: 'http://127.0.0.1:9' } })
beforeAll(async () => {
  admin = await registerUser(server, 'admin') // the first account is the admin
  member = await registerUser(server, 'member')
})

function expectBaseHeaders(res: Response, what: string) {
  expect({
    what,
    nosniff: res.headers.get('x-content-type-options'),
    referrer: res.headers.get('referrer-policy'),
  }).toEqual({ what, nosniff: 'nosniff', referrer: 'no-referrer' })
}

/** The script the page loads (a hashed asset). */
async function pageScript(url: string) {
  const html = await (await fetch(url + '/')).text()
  const src = /<script[^>]+src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1]
  expect(src).toBeString()
  const res = await fetch(url + src!)
  expect(res.status).toBe(200)
  return { path: src!, text: await res.text() }
}

describe('security headers', () => {
  test('API answers, errors and early refusals carry nosniff, a referrer policy, no-store and a deny-all CSP', async () => {
    // /v1 and /mcp answer with the key's user's data (here: their notes, through an MCP tool call).
    const key = (
      await expectJson(await server.api('/api/keys', { token: member.accessToken, body: { name: 'headers' } }), 201)
    ).secret as string
    const mcpHeaders = { authorization: `Bearer ${key}`, accept: 'application/json, text/event-stream' }
    const mcpCall = {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'search_notes', arguments: { query: 'x' } },
    }
    const answers: [string, Response][] = [
      ['threads', await server.api('/api/threads', { token: member.accessToken })],
      ['me', await server.api('/api/me', { token: member.accessToken })],
      ['login', await server.api('/api/auth/login', { body: { email: member.email, password: member.password } })],
      ['no token', await server.api('/api/threads')],
      ['bad input', await server.api('/api/threads', { token: member.accessToken, body: { title: 42 } })],
      ['bad json', await server.api('/api/threads', { token: member.accessToken, body: '{oops' })],
      ['unknown route', await server.api('/api/nope')],
      ['too large', await server.api('/api/threads', { token: member.accessToken, body: 'x'.repeat(9 * 1024 * 1024) })],
      ['model down', await server.api('/api/models', { token: member.accessToken })],
      ['ready', await server.api('/ready')],
      ['v1 models', await server.api('/v1/models', { headers: { authorization: `Bearer ${key}` } })],
      ['v1 no key', await server.api('/v1/models')],
      ['mcp', await server.api('/mcp', { headers: mcpHeaders, body: mcpCall })],
      ['mcp no key', await server.api('/mcp', { headers: { accept: mcpHeaders.accept }, body: mcpCall })],
    ]
    expect(answers.map(([what, res]) => [what, res.status])).toEqual([
      ['threads', 200],
      ['me', 200],
      ['login', 200],
      ['no token', 401],
      ['bad input', 400],
      ['bad json', 400],
      ['unknown route', 404],
      ['too large', 413],
      ['model down', 503],
      ['ready', 200],
      ['v1 models', 503], // the model is down here: the error answer is private too
      ['v1 no key', 401],
      ['mcp', 200],
      ['mcp no key', 401],
    ])
    for (const [what, res] of answers) {
      expectBaseHeaders(res, what)
      expect({ what, cache: res.headers.get('cache-control') }).toEqual({ what, cache: 'no-store' })
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'")
      expect(res.headers.get('x-frame-options')).toBe('DENY')
      await res.arrayBuffer()
    }
    const health = await server.api('/health')
    expectBaseHeaders(health, 'health')
  })

  test('the UI page has its CSP and frame protection; hashed assets stay cacheable', async () => {
    const page = await fetch(server.url + '/')
    expect(page.status).toBe(200)
    expectBaseHeaders(page, 'page')
    const csp = page.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).not.toContain('unsafe-inline')
    expect(page.headers.get('x-frame-options')).toBe('DENY')
    await page.text()
    const script = await pageScript(server.url)
    const asset = await fetch(server.url + script.path)
    expectBaseHeaders(asset, 'asset')
    expect(asset.headers.get('cache-control')).toContain('immutable')
    await asset.text()
  })
})

describe('source maps', () => {
  test('are not served unless WEB_SOURCE_MAPS asks for them', async () => {
    const script = await pageScript(server.url)
    expect(script.text).not.toContain('sourceMappingURL')
    const map = await fetch(`${server.url}${script.path}.map`)
    expect(map.status).toBe(404)
    await map.text()
  })

  test('with WEB_SOURCE_MAPS=true the script links its map and the map is served', async () => {
    const withMaps = await startTestServer({ WEB_SOURCE_MAPS: 'true' })
    try {
      const script = await pageScript(withMaps.url)
      const link = /sourceMappingURL=(\S+)/.exec(script.text)?.[1]
      expect(link).toBeString()
      const map = await fetch(new URL(link!, withMaps.url + script.path))
      expect(map.status).toBe(200)
      expect((await map.json()).sources.length).toBeGreaterThan(0)
    } finally {
      await withMaps.close()
    }
  })
})

describe('/ready', () => {
  test('tells an anonymous caller only ready or not and whether the model is reachable', async () => {
    const res = await server.api('/ready')
    const text = await res.text()
    expect(res.status).toBe(200)
    expect(JSON.parse(text)).toEqual({ status: 'ready', database: 'ok', ollama: 'unreachable' })
    expect(text).not.toContain('127.0.0.1')
    expect(text).not.toContain('http')
  })

  test('a member sees no more than an anonymous caller; an admin sees hosts, circuits and queue', async () => {
    expect(await expectJson(await server.api('/ready', { token: member.accessToken }))).toEqual({
      status: 'ready',
      database: 'ok',
      ollama: 'unreachable',
    })
    const detail = await expectJson(await server.api('/ready', { token: admin.accessToken }))
    expect(detail).toMatchObject({ status: 'ready', database: 'ok', ollama: 'unreachable' })
    expect(detail.ollamaHosts).toEqual([
      expect.objectContaining({ host: 'http://127.0.0.1:9', reachable: false, circuit: 'closed' }),
    ])
    expect(detail.ollamaQueue).toEqual({ depths: {}, queued: 0, inFlight: 0 })
    // A forged or broken token is just anonymous.
    expect(await expectJson(await server.api('/ready', { token: 'not-a-token' }))).toEqual({
      status: 'ready',
      database: 'ok',
      ollama: 'unreachable',
    })
  })

  test("an admin's token shows the detail only while its session lives and the user is still an admin", async () => {
    const anonymous = { status: 'ready', database: 'ok', ollama: 'unreachable' }
    const email = `second-admin-${crypto.randomUUID()}@example.test`
    const password = `pw-${crypto.randomUUID()}`
    const created = await expectJson(
      await server.api('/api/admin/users', { token: admin.accessToken, body: { email, password, role: 'admin' } }),
      201,
    )
    const signIn = async () =>
      (await expectJson(await server.api('/api/auth/login', { body: { email, password } }))).accessToken
    const hasDetail = async (token: string) =>
      'ollamaHosts' in (await expectJson(await server.api('/ready', { token })))

    const token = await signIn()
    expect(await hasDetail(token)).toBe(true)
    // Demoted: the token still says "admin", the user no longer is one.
    const demote = { token: admin.accessToken, method: 'PATCH', body: { role: 'member' } }
    await expectJson(await server.api(`/api/admin/users/${created.user.id}`, demote))
    expect(await expectJson(await server.api('/ready', { token }))).toEqual(anonymous)

    // Promoted again, then signed out: the ended session shows nothing either.
    const promote = { token: admin.accessToken, method: 'PATCH', body: { role: 'admin' } }
    await expectJson(await server.api(`/api/admin/users/${created.user.id}`, promote))
    const again = await signIn()
    expect(await hasDetail(again)).toBe(true)
    const signOut = { token: admin.accessToken, method: 'POST' }
    expect((await server.api(`/api/admin/users/${created.user.id}/sign-out`, signOut)).status).toBe(204)
    expect(await expectJson(await server.api('/ready', { token: again }))).toEqual(anonymous)
  })
})
