import type { Client } from '@libsql/client'
import type { TestServer } from './server'
import type { TestUser } from './users'

/**
 * Helpers for the admin, usage and account tests: row counts per table for one user (every
 * table with a `user_id` column, plus the user's own row), read from the live database.
 */
export async function rowsPerTable(client: Client, userId: string): Promise<Record<string, number>> {
  const tables = await client.execute(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '%_fts%' AND name NOT LIKE '__drizzle%'",
  )
  const counts: Record<string, number> = {}
  for (const { name } of tables.rows) {
    const table = String(name)
    const columns = await client.execute(`PRAGMA table_info("${table}")`)
    const names = columns.rows.map((c) => String(c.name))
    const column = table === 'users' ? 'id' : names.includes('user_id') ? 'user_id' : undefined
    if (!column) continue
    const result = await client.execute({
      sql: `SELECT count(*) AS n FROM "${table}" WHERE "${column}" = ?`,
      args: [userId],
    })
    counts[table] = Number(result.rows[0].n)
  }
  return counts
}

/** Signs in again (a fresh session) through the real API. */
export async function login(server: Pick<TestServer, 'api'>, user: Pick<TestUser, 'email' | 'password'>) {
  return server.api('/api/auth/login', { body: { email: user.email, password: user.password } })
}

export async function refresh(server: Pick<TestServer, 'api'>, refreshToken: string) {
  return server.api('/api/auth/refresh', { body: { refreshToken } })
}

/** Reads every page of a paged list. */
export async function allPages<T>(
  server: Pick<TestServer, 'api'>,
  path: string,
  token: string,
  key: string,
  limit = 2,
): Promise<T[]> {
  const items: T[] = []
  let cursor: string | null = null
  for (let guard = 0; guard < 1000; guard++) {
    const sep = path.includes('?') ? '&' : '?'
    const res = await server.api(
      `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      { token },
    )
    if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`)
    const body = (await res.json()) as any
    items.push(...body[key])
    cursor = body.nextCursor
    if (!cursor) return items
  }
  throw new Error('paging did not end')
}
