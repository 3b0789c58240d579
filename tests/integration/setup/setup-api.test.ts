/** GET /api/setup (no login): `needsAdmin` is true on a fresh server and false once anyone signed up. */
import { test, expect, afterAll, setDefaultTimeout } from 'bun:test'
import { startTestServer, type TestServer } from '../../support/server'
import { registerUser } from '../../support/users'
import { expectJson } from '../../support/http'

setDefaultTimeout(30_000)

let server: TestServer | undefined
afterAll(async () => {
  await server?.close()
})

test('needsAdmin until the first account exists, and nothing more is said', async () => {
  server = await startTestServer()
  const fresh = await server.api('/api/setup')
  expect(fresh.headers.get('cache-control')).toBe('no-store')
  expect(await expectJson(fresh)).toEqual({ needsAdmin: true })
  const first = await registerUser(server, 'founder')
  const me = await expectJson(await server.api('/api/me', { token: first.accessToken }))
  expect(me.user.role).toBe('admin')
  expect(await expectJson(await server.api('/api/setup'))).toEqual({ needsAdmin: false })
})
