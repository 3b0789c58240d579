/**
 * Fixtures that clean up after themselves: one call at the top of a test file starts what the
 * file needs in beforeAll and stops it in afterAll.
 *
 *   const { server, users: [alice, bob], as } = useTestServer({ users: ['alice', 'bob'] })
 *
 * The values exist only once beforeAll ran, so what is returned are stand-ins that forward to
 * them (a Proxy): destructure at the top, use inside tests and hooks.
 */
import { afterAll, beforeAll } from 'bun:test'
import { type ChatStack, startChatStack } from '../../src/testing/chat-stack'
import type { ChatHandler } from '../../src/testing/fake-ollama'
import { startTestServer, type TestServer } from '../../src/testing/server'
import { apiAs, registerUser, type TestUser } from '../../src/testing/users'
import { openTestDatabase, type TestDatabase } from './db'

/** A stand-in for a value that a beforeAll hook will create. */
export function later<T extends object>(what: string, get: () => T | undefined): T {
  const real = () => get() ?? fail(`${what} is used before beforeAll started it`)
  return new Proxy({} as T, {
    get(_, key) {
      const target = real()
      const value = Reflect.get(target, key)
      return typeof value === 'function' ? value.bind(target) : value
    },
    set: (_, key, value) => Reflect.set(real(), key, value),
    has: (_, key) => Reflect.has(real(), key),
    ownKeys: () => Reflect.ownKeys(real()),
    getOwnPropertyDescriptor: (_, key) => Reflect.getOwnPropertyDescriptor(real(), key),
  })
}

function fail(message: string): never {
  throw new Error(message)
}

export interface ServerFixture {
  server: TestServer
  /** The users named in `users`, registered in that order (the first one is the admin). */
  users: TestUser[]
  /** The API as this user. */
  as: (user: TestUser) => ReturnType<typeof apiAs>
}

/** A test server for the file (env as in startTestServer), with users signed up. */
export function useTestServer(opts: { env?: Record<string, string>; users?: string[] } = {}): ServerFixture {
  let server: TestServer | undefined
  const users: TestUser[] = []
  beforeAll(async () => {
    server = await startTestServer(opts.env)
    for (const name of opts.users ?? []) users.push(await registerUser(server, name))
  })
  afterAll(async () => {
    await server?.close()
  })
  const serverLater = later('the test server', () => server)
  return {
    server: serverLater,
    users: (opts.users ?? []).map((name, i) => later(`user ${name}`, () => users[i])),
    as: (user) => apiAs(serverLater, user),
  }
}

/** A chat stack (server + scripted Ollama) for the file; see startChatStack. */
export function useChatStack(opts: { env?: Record<string, string>; handler?: ChatHandler } = {}): ChatStack {
  let stack: ChatStack | undefined
  beforeAll(async () => {
    stack = await startChatStack(opts)
  })
  afterAll(async () => {
    await stack?.close()
  })
  return later('the chat stack', () => stack)
}

/** A migrated libsql file of its own for the file's tests (openTestDatabase), removed afterwards. */
export function useTestDatabase(): TestDatabase {
  let t: TestDatabase | undefined
  beforeAll(async () => {
    t = await openTestDatabase()
  })
  afterAll(async () => {
    await t?.close()
  })
  return later('the test database', () => t)
}

/**
 * Anything with a close(), started before the file's (or describe block's) tests and closed after
 * them: `const linking = useStarted('the linking server', () => startOidcTestServer(idp, env))`.
 */
export function useStarted<T extends { close(): unknown }>(what: string, start: () => Promise<T>): T {
  let started: T | undefined
  beforeAll(async () => {
    started = await start()
  })
  afterAll(async () => {
    await started?.close()
  })
  return later(what, () => started)
}
