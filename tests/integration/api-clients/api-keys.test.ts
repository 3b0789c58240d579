/** Personal API keys (PROTOCOL.md §7, §5 paging): create, list, revoke, and where keys work. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startChatStack, type ChatStack } from '../../support/chat-stack'
import { registerUser, type TestUser } from '../../support/users'
import { expectError, expectJson } from '../../support/http'

let stack: ChatStack
let alice: TestUser
let bob: TestUser

beforeAll(async () => {
  stack = await startChatStack()
  alice = await registerUser(stack.server, 'alice')
  bob = await registerUser(stack.server, 'bob')
})
afterAll(() => stack.close())

const createKey = async (user: TestUser, body: unknown = { name: 'script' }) =>
  expectJson<{ key: any; secret: string }>(await stack.server.api('/api/keys', { token: user.accessToken, body }), 201)
const listKeys = async (user: TestUser, query = '') =>
  expectJson<{ keys: any[]; nextCursor: string | null }>(
    await stack.server.api(`/api/keys${query}`, { token: user.accessToken }),
  )
/** A /v1 call with a bearer token; its status says whether the token is accepted there. */
const v1Models = (token: string) => stack.server.api('/v1/models', { token })

describe('creating a key', () => {
  test('the secret starts with lcs_, is shown once, and only its hash is stored', async () => {
    const { key, secret } = await createKey(alice, { name: 'laptop script' })
    expect(secret).toMatch(/^lcs_[A-Za-z0-9_-]{40,}$/)
    expect(Object.keys(key).sort()).toEqual(['createdAt', 'expiresAt', 'id', 'lastUsedAt', 'name', 'prefix'])
    expect(key).toMatchObject({ name: 'laptop script', expiresAt: null, lastUsedAt: null })
    expect(secret.startsWith(key.prefix)).toBe(true)
    expect(key.prefix.length).toBeLessThan(secret.length / 2)

    const listed = await listKeys(alice)
    const row = listed.keys.find((k) => k.id === key.id)
    expect(row).toEqual(key)
    expect(JSON.stringify(listed)).not.toContain(secret)

    const stored = await stack.server.services.database.client.execute({
      sql: 'SELECT * FROM api_keys WHERE id = ?',
      args: [key.id],
    })
    expect(JSON.stringify(stored.rows)).not.toContain(secret)
    expect(stored.rows[0].secret_hash).toBe(new Bun.CryptoHasher('sha256').update(secret).digest('hex'))
  })

  test('expiresInDays sets the expiry; bad input is a 400 and creates nothing', async () => {
    const { key } = await createKey(bob, { name: 'ci', expiresInDays: 30 })
    const days = (Date.parse(key.expiresAt) - Date.parse(key.createdAt)) / 86_400_000
    expect(days).toBeCloseTo(30, 3)
    const before = (await listKeys(bob)).keys.length
    for (const body of [
      {},
      { name: '' },
      { name: '   ' },
      { name: 'x'.repeat(101) },
      { name: 'ok', expiresInDays: 0 },
      { name: 'ok', expiresInDays: 1.5 },
      { name: 7 },
    ]) {
      await expectError(await stack.server.api('/api/keys', { token: bob.accessToken, body }), 400)
    }
    await expectError(
      await stack.server.api('/api/keys', { token: bob.accessToken, body: '{"name":' }),
      400,
      'invalid_json',
    )
    expect((await listKeys(bob)).keys.length).toBe(before)
  })

  test('managing keys needs an access token, never a key', async () => {
    const { secret } = await createKey(alice)
    await expectError(await stack.server.api('/api/keys'), 401)
    await expectError(await stack.server.api('/api/keys', { token: secret }), 401)
    await expectError(await stack.server.api('/api/keys', { token: secret, body: { name: 'by key' } }), 401)
  })
})

describe('where a key works', () => {
  test('a key authenticates on /v1 and /mcp but never on /api/*; a JWT is refused on /v1 and /mcp', async () => {
    const { secret } = await createKey(alice)
    expect((await v1Models(secret)).status).toBe(200)
    for (const path of ['/api/me', '/api/threads', '/api/notes'])
      await expectError(await stack.server.api(path, { token: secret }), 401)

    const jwt = await v1Models(alice.accessToken)
    expect(jwt.status).toBe(401)
    expect(((await jwt.json()) as any).error.code).toBe('invalid_api_key')
    const mcp = await stack.server.api('/mcp', {
      token: alice.accessToken,
      body: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
    })
    await expectError(mcp, 401, 'invalid_api_key')
  })

  test('unknown, missing and malformed keys are 401', async () => {
    for (const token of ['lcs_not-a-real-key', 'lcs_', 'garbage']) expect((await v1Models(token)).status).toBe(401)
    expect((await stack.server.api('/v1/models')).status).toBe(401)
  })

  test('an expired key is 401', async () => {
    const { key, secret } = await createKey(bob, { name: 'short', expiresInDays: 1 })
    expect((await v1Models(secret)).status).toBe(200)
    // Move the expiry into the past instead of waiting a day.
    await stack.server.services.database.client.execute({
      sql: 'UPDATE api_keys SET expires_at = ? WHERE id = ?',
      args: [Date.now() - 1000, key.id],
    })
    const res = await v1Models(secret)
    expect(res.status).toBe(401)
    expect(((await res.json()) as any).error.code).toBe('api_key_expired')
  })

  test('using a key records its last use', async () => {
    const { key, secret } = await createKey(bob, { name: 'used' })
    expect((await v1Models(secret)).status).toBe(200)
    let row: any
    for (let i = 0; i < 100 && !row?.lastUsedAt; i++) {
      row = (await listKeys(bob)).keys.find((k) => k.id === key.id)
      if (!row?.lastUsedAt) await Bun.sleep(20)
    }
    expect(Date.parse(row.lastUsedAt)).toBeGreaterThanOrEqual(Date.parse(key.createdAt))
  })
})

describe('revoking a key', () => {
  test('revoked at once: the next call is 401 and the key leaves the list', async () => {
    const { key, secret } = await createKey(alice, { name: 'to revoke' })
    expect((await v1Models(secret)).status).toBe(200)
    const res = await stack.server.api(`/api/keys/${key.id}`, { token: alice.accessToken, method: 'DELETE' })
    expect(res.status).toBe(204)
    const after = await v1Models(secret)
    expect(after.status).toBe(401)
    expect(((await after.json()) as any).error.code).toBe('api_key_revoked')
    expect((await listKeys(alice)).keys.map((k) => k.id)).not.toContain(key.id)
    await expectError(
      await stack.server.api(`/api/keys/${key.id}`, { token: alice.accessToken, method: 'DELETE' }),
      404,
      'not_found',
    )
  })

  test("another user's key is a 404 and keeps working", async () => {
    const { key, secret } = await createKey(alice, { name: 'mine' })
    await expectError(
      await stack.server.api(`/api/keys/${key.id}`, { token: bob.accessToken, method: 'DELETE' }),
      404,
      'not_found',
    )
    expect((await listKeys(bob)).keys.map((k) => k.id)).not.toContain(key.id)
    expect((await v1Models(secret)).status).toBe(200)
  })
})

describe('listing pages (§5)', () => {
  test('newest first, limit and cursor walk every key once, nextCursor null on the last page', async () => {
    const carol = await registerUser(stack.server, 'carol')
    const ids: string[] = []
    for (let i = 0; i < 5; i++) ids.push((await createKey(carol, { name: `k${i}` })).key.id)
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const page = await listKeys(carol, `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
      expect(page.keys.length).toBeLessThanOrEqual(2)
      seen.push(...page.keys.map((k) => k.id))
      cursor = page.nextCursor
      pages++
    } while (cursor && pages < 10)
    expect(pages).toBe(3)
    expect(seen).toEqual([...ids].reverse())
    expect((await listKeys(carol)).nextCursor).toBeNull()
  })

  test('limit outside 1–200 and a forged cursor are 400', async () => {
    for (const q of ['?limit=0', '?limit=201', '?limit=abc', '?limit=1.5', '?cursor=not-a-cursor']) {
      await expectError(await stack.server.api(`/api/keys${q}`, { token: alice.accessToken }), 400)
    }
    expect((await listKeys(alice, '?limit=200')).keys.length).toBeGreaterThan(0)
  })
})
