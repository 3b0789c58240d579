import type { ApiInit, TestServer } from './server'

export interface TestUser {
  id: string
  email: string
  password: string
  accessToken: string
  refreshToken: string
}

let counter = 0

/** Registers a fresh user through the real HTTP API. */
export async function registerUser(server: Pick<TestServer, 'api'>, name = 'user'): Promise<TestUser> {
  const email = `${name}-${Date.now()}-${++counter}@example.test`
  const password = `pw-${crypto.randomUUID()}`
  const res = await server.api('/api/auth/register', { body: { email, password, name } })
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${await res.text()}`)
  const body = (await res.json()) as any
  return { id: body.user.id, email, password, accessToken: body.accessToken, refreshToken: body.refreshToken }
}

export async function registerUsers(
  server: Pick<TestServer, 'api'>,
  count: number,
  name = 'user',
): Promise<TestUser[]> {
  const users: TestUser[] = []
  // Sequential: argon2 hashing of many at once only slows every test on 2 cores.
  for (let i = 0; i < count; i++) users.push(await registerUser(server, `${name}${i}`))
  return users
}

/** Calls the API as this user: `apiAs(server, alice)('/api/notes', { body })`. */
export const apiAs =
  (server: Pick<TestServer, 'api'>, user: Pick<TestUser, 'accessToken'>) =>
  (path: string, init: Omit<ApiInit, 'token'> = {}) =>
    server.api(path, { ...init, token: user.accessToken })
