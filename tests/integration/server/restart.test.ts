/**
 * Data and sessions survive a restart: two servers, one after the other, on the same database
 * file and data folder.
 */
import { test, expect, describe, afterAll, setDefaultTimeout } from 'bun:test'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startTestServer } from '../../support/server'
import { registerUser } from '../../support/users'
import { expectJson } from '../../support/http'
import { asUser } from '../../support/db'

// A hang guard, not a speed bound: argon2 and real servers are slow on a loaded 2-core machine.
// Set per file because bun 1.4 applies a preload's setDefaultTimeout to the first file only.
setDefaultTimeout(30_000)

const dirs: string[] = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** The env of a server that keeps its state in `dir` (both restarts use the same). */
function persistentEnv(extra: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'chat-restart-test-'))
  dirs.push(dir)
  return { dir, env: { DATA_DIR: dir, DATABASE_URL: `file:${join(dir, 'chat.db')}`, ...extra } }
}

describe('restart', () => {
  test('users, threads and messages are still there, and the old access and refresh tokens work', async () => {
    const { env } = persistentEnv()
    const first = await startTestServer(env)
    let user, threads: any[]
    try {
      user = await registerUser(first, 'restart')
      threads = []
      for (const title of ['kept one', 'kept two'])
        threads.push(
          (await expectJson(await first.api('/api/threads', { token: user.accessToken, body: { title } }), 201)).thread,
        )
      await asUser(user, async () => {
        await first.services.repos.messages.add({ threadId: threads[0].id, role: 'user', content: 'remember me' })
        await first.services.repos.messages.add({ threadId: threads[0].id, role: 'assistant', content: 'I will' })
      })
    } finally {
      await first.close()
    }

    const second = await startTestServer(env)
    try {
      // The access token signed by the first process is valid in the second.
      const me = await expectJson(await second.api('/api/me', { token: user.accessToken }))
      expect(me.user).toMatchObject({ id: user.id, email: user.email, role: 'admin' })

      const listed = (await expectJson(await second.api('/api/threads', { token: user.accessToken }))).threads
      // The thread that got the messages was active last, so it leads the list.
      expect(listed.map((t: any) => ({ id: t.id, title: t.title }))).toEqual(
        [threads[0], threads[1]].map((t) => ({ id: t.id, title: t.title })),
      )
      const messages = (
        await expectJson(await second.api(`/api/threads/${threads[0].id}/messages`, { token: user.accessToken }))
      ).messages
      expect(messages.map((m: any) => [m.role, m.content])).toEqual([
        ['user', 'remember me'],
        ['assistant', 'I will'],
      ])

      // The password and the refresh token family were stored too.
      await expectJson(await second.api('/api/auth/login', { body: { email: user.email, password: user.password } }))
      const rotated = await expectJson(
        await second.api('/api/auth/refresh', { body: { refreshToken: user.refreshToken } }),
      )
      expect(rotated.refreshToken).not.toBe(user.refreshToken)
      // The first account stays the only admin: the next one is a member.
      const next = await registerUser(second, 'after')
      expect((await expectJson(await second.api('/api/me', { token: next.accessToken }))).user.role).toBe('member')
    } finally {
      await second.close()
    }
  })

  test('without JWT_SECRET the generated secret is kept in the data folder and reused', async () => {
    // JWT_SECRET '' overrides the helper's fixed test secret: the server generates one.
    const { dir, env } = persistentEnv({ JWT_SECRET: '' })
    const first = await startTestServer(env)
    let token: string
    try {
      expect(existsSync(join(dir, 'jwt-secret'))).toBe(true)
      expect(first.config.jwtSecret).toBe(readFileSync(join(dir, 'jwt-secret'), 'utf8').trim())
      expect(first.config.jwtSecret).not.toBe('test-secret-that-is-long-enough-for-hs256-0123456789')
      token = (await registerUser(first, 'secret')).accessToken
    } finally {
      await first.close()
    }

    const second = await startTestServer(env)
    try {
      expect(second.config.jwtSecret).toBe(first.config.jwtSecret)
      expect((await second.api('/api/me', { token })).status).toBe(200)
    } finally {
      await second.close()
    }

    // A server with another data folder (another secret) does not accept that token.
    const stranger = await startTestServer({ JWT_SECRET: '' })
    try {
      expect((await stranger.api('/api/me', { token })).status).toBe(401)
    } finally {
      await stranger.close()
    }
  })
})
