import { afterEach } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase, type Database, type OpenOptions } from '../../src/db/client'
import { usersRepository, type UserView } from '../../src/db/repositories/users'
import { threadsRepository } from '../../src/db/repositories/threads'
import { messagesRepository } from '../../src/db/repositories/messages'
import { runsRepository, runJournalStore } from '../../src/db/repositories/runs'
import { createUserContext, type Role } from '../../src/context/user-context'

/**
 * A real libsql file in a fresh temp folder, migrated, with the repositories built on it.
 * Use it for tests of the data layer that need no HTTP server (faster: no argon2, no listen).
 */
export interface TestDatabase {
  database: Database
  /** The `file:` URL of the database. */
  url: string
  dir: string
  repos: ReturnType<typeof repositoriesOf>
  close(): Promise<void>
}

function repositoriesOf(database: Database) {
  return {
    users: usersRepository(database),
    threads: threadsRepository(database),
    messages: messagesRepository(database),
    runs: runsRepository(database),
    journal: runJournalStore(database),
  }
}

export async function openTestDatabase(): Promise<TestDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'chat-db-test-'))
  const url = `file:${join(dir, 'chat.db')}`
  const database = await openDatabase(url)
  return {
    database,
    url,
    dir,
    repos: repositoriesOf(database),
    async close() {
      database.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * Databases for the tests of one file, each closed after its test and its temp folder removed:
 * `open()` a migrated database (in memory unless given a URL), `fileUrl()` a `file:` URL in a
 * fresh temp folder (open it more than once for several connections to one file).
 */
export function useDatabases() {
  const opened: Database[] = []
  const dirs: string[] = []
  afterEach(() => {
    for (const database of opened.splice(0)) database.close()
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  })
  return {
    async open(url = ':memory:', options?: OpenOptions): Promise<Database> {
      const database = await openDatabase(url, undefined, options)
      opened.push(database)
      return database
    },
    fileUrl(name = 'test.db'): string {
      const dir = mkdtempSync(join(tmpdir(), 'chat-db-'))
      dirs.push(dir)
      return `file:${join(dir, name)}`
    },
  }
}

let counter = 0

/**
 * Creates accounts straight through the users repository (no password, so no argon2 cost).
 * For users that must log in over HTTP use `registerUser` from ./users instead.
 */
export async function createDbUsers(database: Database, count: number, prefix = 'user'): Promise<UserView[]> {
  const users = usersRepository(database)
  const out: UserView[] = []
  for (let i = 0; i < count; i++) {
    const email = `${prefix}${i}-${Date.now()}-${++counter}@example.test`
    const row = await users.create({ email, name: `${prefix}${i}` }, true)
    if (typeof row === 'string') throw new Error(`could not create user ${email}: ${row}`)
    out.push({ id: row.id, email: row.email, name: row.name, role: row.role })
  }
  return out
}

/**
 * Runs `fn` inside a fresh user context for `user` (as the auth macro does for a request) and
 * disposes the context afterwards.
 */
export async function asUser<T>(user: { id: string; role?: Role } | string, fn: () => Promise<T> | T): Promise<T> {
  const userId = typeof user === 'string' ? user : user.id
  const role = (typeof user === 'string' ? undefined : user.role) ?? 'member'
  const context = createUserContext({ userId, role })
  try {
    return await context.run(fn)
  } finally {
    await context.dispose()
  }
}

/** How many rows of `table` the user owns, counted in the database itself (what a test wrote, or did not). */
export async function rowsOwned(database: Pick<Database, 'client'>, table: string, userId: string): Promise<number> {
  const result = await database.client.execute({
    sql: `SELECT count(*) AS n FROM "${table}" WHERE user_id = ?`,
    args: [userId],
  })
  return Number(result.rows[0].n)
}
