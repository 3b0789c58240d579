/**
 * Benchmark users: a few registered through HTTP (argon2, limited concurrency), the rest created
 * with the users repository + accessTokens.sign of the running server (say so).
 */
import type { RunningServer } from '../../../src/app'
import { mapLimit } from './map-limit'
import { fmtMs } from './numbers'
import type { BenchServer } from './server'

export interface BenchUser {
  id: string
  token: string
  via: 'http' | 'minted'
}

/** Registers through POST /api/auth/register (argon2id per user: keep `concurrency` low). */
export async function registerUsersHttp(
  url: string,
  count: number,
  prefix = 'bench',
  concurrency = 2,
): Promise<BenchUser[]> {
  const stamp = Date.now().toString(36)
  return mapLimit(
    Array.from({ length: count }, (_, i) => i),
    concurrency,
    async (i) => {
      const res = await fetch(`${url}/api/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          email: `${prefix}-${stamp}-${i}@bench.test`,
          password: `pw-${crypto.randomUUID()}`,
          name: `${prefix}${i}`,
        }),
      })
      if (res.status !== 201) throw new Error(`register failed: ${res.status} ${await res.text()}`)
      const body = (await res.json()) as { user: { id: string }; accessToken: string }
      return { id: body.user.id, token: body.accessToken, via: 'http' as const }
    },
  )
}

/**
 * Creates accounts with the server's own users repository and signs their access tokens with
 * its own accessTokens: the same rows and tokens registration makes, minus the argon2 hash
 * (these accounts have no password and can only use the token).
 */
export async function mintUsers(server: RunningServer, count: number, prefix = 'minted'): Promise<BenchUser[]> {
  const stamp = Date.now().toString(36)
  return mapLimit(
    Array.from({ length: count }, (_, i) => i),
    8,
    async (i) => {
      const row = await server.services.repos.users.create(
        { email: `${prefix}-${stamp}-${i}@bench.test`, name: `${prefix}${i}` },
        true,
      )
      if (typeof row === 'string') throw new Error(`could not create a user: ${row}`)
      const { token } = await server.services.access.sign({ id: row.id, role: row.role })
      return { id: row.id, token, via: 'minted' as const }
    },
  )
}

/** `httpCount` users through the real registration, the rest minted; prints how. */
export async function makeUsers(
  bs: BenchServer,
  count: number,
  opts: { httpCount?: number; concurrency?: number; prefix?: string } = {},
): Promise<BenchUser[]> {
  const started = performance.now()
  const httpCount = Math.min(count, opts.httpCount ?? count)
  const viaHttp = await registerUsersHttp(bs.url, httpCount, opts.prefix ?? 'bench', opts.concurrency ?? 2)
  const httpMs = performance.now() - started
  const minted = await mintUsers(bs.server, count - httpCount, opts.prefix ?? 'minted')
  const total = performance.now() - started
  console.log(
    `users: ${count} — ${httpCount} registered through POST /api/auth/register (argon2id, ${opts.concurrency ?? 2} at a time, ${fmtMs(httpMs)})` +
      (minted.length
        ? `, ${minted.length} created with server.services.repos.users.create + server.services.access.sign (no password hash; same user rows and JWTs)`
        : '') +
      ` in ${fmtMs(total)}`,
  )
  return [...viaHttp, ...minted]
}
